/**
 * Browser-based POST uploads (POST Object with a SigV4-signed policy), parsed and checked the way Amazon S3
 * does: every field before the file is authenticated and matched against the policy before a single file
 * byte is handed to the caller, and the file is streamed with its size limits enforced on the fly.
 * See "Authenticating Requests in Browser-Based Uploads Using POST (AWS Signature Version 4)".
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { AccessKey } from '@darkroom/aws-auth';
import busboy from 'busboy';
import { S3Error } from './errors.ts';

export type PostChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256';

export interface PostUpload {
  /** After `${filename}` substitution. */
  key: string;
  /** From the Content-Type form field (not the file part's own header), as S3 does. */
  contentType: string | undefined;
  /** Every form field before the file, names lowercased. */
  fields: Record<string, string>;
  /** x-amz-meta-* fields, without the prefix, names lowercased. */
  metadata: Record<string, string>;
  cacheControl?: string;
  contentDisposition?: string;
  successActionStatus?: 200 | 201 | 204;
  successActionRedirect?: string;
  /** From an x-amz-checksum-* field; the caller verifies it against the stored bytes. */
  checksum?: { algorithm: PostChecksumAlgorithm; value: string };
  /** Base64 MD5 from the Content-MD5 field (shape already checked); the caller verifies it. */
  contentMd5?: string;
  accessKeyId: string;
  /**
   * The file bytes, already checked against every policy condition except length; it errors with S3Error
   * EntityTooLarge/EntityTooSmall as soon as the content-length-range is violated, without buffering.
   */
  file: Readable;
  /** Resolves when the whole form has been consumed; rejects with S3Error if anything after the file is malformed. */
  done: Promise<void>;
}

export interface PostUploadOptions {
  keys: readonly AccessKey[];
  region: string;
  now: Date;
  maxObjectBytes: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
// biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal key placeholder, not a template.
const FILENAME_PLACEHOLDER = '${filename}';
// Hostile-input bounds: the form before the file is held in memory, so it must stay small.
const MAX_FIELDS = 100;
const MAX_FIELD_BYTES = 20 * 1024;
const MAX_FIELD_NAME_CHARS = 1024;
const MAX_PRE_FILE_BYTES = 64 * 1024;
const MAX_KEY_BYTES = 1024;
const MAX_METADATA_BYTES = 2048;
// Fields S3 never requires a policy condition for.
const UNCHECKED_FIELDS = new Set(['x-amz-signature', 'file', 'policy']);
const CHECKSUMS: Record<string, { algorithm: PostChecksumAlgorithm; bytes: number }> = {
  'x-amz-checksum-crc32': { algorithm: 'CRC32', bytes: 4 },
  'x-amz-checksum-crc32c': { algorithm: 'CRC32C', bytes: 4 },
  'x-amz-checksum-sha1': { algorithm: 'SHA1', bytes: 20 },
  'x-amz-checksum-sha256': { algorithm: 'SHA256', bytes: 32 },
};

/** Parses and authorizes a POST Object form; resolves once the file part starts, with the file as a stream. */
export async function readPostUpload(
  req: IncomingMessage,
  bucket: string,
  opts: PostUploadOptions,
): Promise<PostUpload> {
  const bb = openForm(req, opts.maxObjectBytes);
  let resolveDone!: () => void;
  let rejectDone!: (err: S3Error) => void;
  const done = new Promise<void>((res, rej) => {
    resolveDone = res;
    rejectDone = rej;
  });
  // A caller that only awaits the file stream must not crash the process with an unhandled rejection.
  done.catch(() => {});

  return new Promise<PostUpload>((resolve, reject) => {
    const form = new Map<string, string>();
    let preFileBytes = 0;
    let phase: 'fields' | 'file' | 'complete' | 'failed' = 'fields';
    let file: Readable | undefined;
    let fileEnded = false;
    let formClosed = false;

    const fail = (err: S3Error): void => {
      if (phase === 'failed' || phase === 'complete') return;
      const streaming = phase === 'file';
      phase = 'failed';
      // Stop reading the body: the caller answers with an error and should close the connection.
      req.unpipe(bb);
      req.pause();
      // Deferred: fail() runs inside busboy's own callbacks, which break if the parser vanishes mid-write.
      process.nextTick(() => bb.destroy());
      if (!streaming) {
        reject(err);
        return;
      }
      if (file && !file.destroyed) file.destroy(err);
      rejectDone(err);
    };
    const maybeFinish = (): void => {
      if (phase === 'file' && fileEnded && formClosed) {
        phase = 'complete';
        resolveDone();
      }
    };

    bb.on('field', (rawName, value, info) => {
      if (phase !== 'fields') return; // S3 ignores everything after the file.
      const name = (rawName ?? '').toLowerCase();
      if (name === '') return fail(malformed('a form part has no name in its Content-Disposition header.'));
      if (name === 'file') {
        return fail(
          new S3Error(
            'InvalidArgument',
            "The 'file' form field must be sent as a file part (with a filename in its Content-Disposition header).",
            { ArgumentName: 'file', ArgumentValue: '' },
          ),
        );
      }
      if (name.length > MAX_FIELD_NAME_CHARS) {
        return fail(
          new S3Error(
            'MaxMessageLengthExceeded',
            `Your POST request fields preceding the upload file were too large: a field name is longer than ${MAX_FIELD_NAME_CHARS} characters.`,
          ),
        );
      }
      if (info.valueTruncated) {
        return fail(
          new S3Error(
            'MaxMessageLengthExceeded',
            `Your POST request fields preceding the upload file were too large: field '${name.slice(0, 64)}' exceeds ${MAX_FIELD_BYTES} bytes.`,
          ),
        );
      }
      preFileBytes += Buffer.byteLength(name) + Buffer.byteLength(value);
      if (preFileBytes > MAX_PRE_FILE_BYTES) {
        return fail(
          new S3Error(
            'MaxMessageLengthExceeded',
            `Your POST request fields preceding the upload file were too large: together they exceed ${MAX_PRE_FILE_BYTES} bytes.`,
          ),
        );
      }
      if (form.has(name)) {
        return fail(
          new S3Error(
            'InvalidArgument',
            `The form field '${name}' appears more than once; send each field once.`,
            {
              ArgumentName: name,
              ArgumentValue: value.slice(0, 256),
            },
          ),
        );
      }
      form.set(name, value);
    });

    bb.on('fieldsLimit', () => {
      if (phase !== 'fields') return;
      fail(
        new S3Error(
          'MaxMessageLengthExceeded',
          `Your POST request fields preceding the upload file were too large: more than ${MAX_FIELDS} fields.`,
        ),
      );
    });

    bb.on('file', (rawName, src, info) => {
      // busboy destroys this stream with an error when the form fails, even one we chose to ignore.
      src.on('error', () => {});
      if (phase !== 'fields') {
        // Later file parts are ignored like any field after the file, but must be drained or busboy stalls.
        src.resume();
        return;
      }
      const name = (rawName ?? '').toLowerCase();
      if (name !== 'file') {
        src.resume();
        return fail(
          new S3Error(
            'InvalidArgument',
            `The form field '${name}' was sent as a file upload; only the field named 'file' may carry a file, and it must be the last field.`,
            { ArgumentName: name, ArgumentValue: info.filename ?? '' },
          ),
        );
      }
      let authorized: Authorized;
      try {
        authorized = authorize(form, info.filename ?? '', bucket, opts);
      } catch (err) {
        src.resume();
        return fail(toS3Error(err));
      }
      phase = 'file';
      const { minBytes, maxBytes, ...upload } = authorized;
      let seen = 0;
      const tooLarge = (size: number) =>
        new S3Error(
          'EntityTooLarge',
          `Your proposed upload exceeds the maximum allowed size: more than ${maxBytes} bytes (received ${size} so far).`,
          { ProposedSize: size, MaxSizeAllowed: maxBytes },
        );

      const out = new Readable({
        read: () => {
          src.resume();
        },
        destroy: (err, cb) => {
          // The consumer gave up (write error, client gone): stop parsing rather than reading into the void.
          if (phase === 'file' && !fileEnded) {
            fail(
              err instanceof S3Error
                ? err
                : new S3Error(
                    'InternalError',
                    'The upload was abandoned before the file was read completely.',
                    {},
                    {
                      cause: err,
                    },
                  ),
            );
          }
          cb(err);
        },
      });
      // Errors may fire before the caller attaches a listener; they must reject, never crash the process.
      out.on('error', () => {});
      file = out;

      src.on('data', (chunk: Buffer) => {
        if (phase !== 'file') return;
        seen += chunk.length;
        if (seen > maxBytes) return fail(tooLarge(seen));
        if (!out.push(chunk)) src.pause();
      });
      // busboy's own cap (maxObjectBytes + 1) is a backstop in case it truncates before we count.
      src.on('limit', () => fail(tooLarge(Math.max(seen, opts.maxObjectBytes + 1))));
      src.on('error', (err) => fail(malformed('the file part ended before its closing boundary.', err)));
      src.on('end', () => {
        if (phase !== 'file') return;
        if (seen < minBytes) {
          return fail(
            new S3Error(
              'EntityTooSmall',
              `Your proposed upload is smaller than the minimum allowed size: ${seen} bytes, the policy requires at least ${minBytes}.`,
              { ProposedSize: seen, MinSizeAllowed: minBytes },
            ),
          );
        }
        fileEnded = true;
        out.push(null);
        maybeFinish();
      });

      resolve({ ...upload, file: out, done });
    });

    bb.on('error', (err) => fail(malformed(describe(err), err)));
    bb.on('close', () => {
      if (phase === 'fields') {
        return fail(
          new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.', {
            ArgumentName: 'file',
            ArgumentValue: '0',
          }),
        );
      }
      formClosed = true;
      maybeFinish();
    });

    const disconnected = (): void => {
      if (!req.complete) {
        fail(new S3Error('IncompleteBody', 'The client disconnected before the whole form was received.'));
      }
    };
    req.on('error', disconnected);
    req.on('close', disconnected);
    req.pipe(bb);
  });
}

interface Authorized extends Omit<PostUpload, 'file' | 'done'> {
  minBytes: number;
  maxBytes: number;
}

function openForm(req: IncomingMessage, maxObjectBytes: number): busboy.Busboy {
  const contentType = req.headers['content-type'] ?? '';
  if (!/^multipart\/form-data\s*(;|$)/i.test(contentType)) {
    throw new S3Error('PreconditionFailed', undefined, {
      Condition: 'Bucket POST must be of the enclosure-type multipart/form-data',
    });
  }
  try {
    return busboy({
      headers: req.headers,
      // Browsers send raw UTF-8 in filename="…"; busboy would decode it as latin1.
      defParamCharset: 'utf8',
      limits: { fields: MAX_FIELDS, fieldSize: MAX_FIELD_BYTES, files: 1, fileSize: maxObjectBytes + 1 },
    });
  } catch (err) {
    throw malformed(`${describe(err)} Check the boundary parameter of the Content-Type header.`, err);
  }
}

function authorize(
  form: Map<string, string>,
  filename: string,
  bucket: string,
  opts: PostUploadOptions,
): Authorized {
  const rawKey = form.get('key');
  if (!rawKey) throw missingField('key');

  const accessKey = authenticate(form, opts);
  const policy = parsePolicy(form.get('policy')!);
  const expiration = Date.parse(policy.expiration);
  if (opts.now.getTime() > expiration) {
    throw new S3Error('AccessDenied', 'Invalid according to Policy: Policy expired.');
  }

  const key = rawKey.replaceAll(FILENAME_PLACEHOLDER, filename);
  if (key === '') {
    throw new S3Error(
      'InvalidArgument',
      `The object key is empty: the key field is ${FILENAME_PLACEHOLDER} but the uploaded file has no file name.`,
      { ArgumentName: 'key', ArgumentValue: rawKey },
    );
  }
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw new S3Error(
      'KeyTooLongError',
      `Your key is too long: object keys are at most ${MAX_KEY_BYTES} bytes.`,
      {
        MaxSizeAllowed: MAX_KEY_BYTES,
      },
    );
  }

  const fieldValue = (field: string): string => {
    // The bucket condition is about where the object lands, which is the request's bucket.
    if (field === 'bucket') return bucket;
    if (field === 'key') return key;
    return form.get(field) ?? '';
  };
  let minBytes = 0;
  let maxBytes = opts.maxObjectBytes;
  const covered = new Set<string>();
  for (const condition of policy.conditions) {
    if (condition.op === 'content-length-range') {
      minBytes = Math.max(minBytes, condition.min);
      maxBytes = Math.min(maxBytes, condition.max);
      continue;
    }
    covered.add(condition.field);
    const actual = fieldValue(condition.field);
    const ok =
      condition.op === 'eq'
        ? actual === condition.value
        : startsWith(condition.field, actual, condition.value);
    if (!ok) {
      throw new S3Error(
        'AccessDenied',
        `Invalid according to Policy: Policy Condition failed: ${condition.text}`,
      );
    }
  }
  const extra = [...form.keys()].filter(
    (name) => !UNCHECKED_FIELDS.has(name) && !name.startsWith('x-ignore-') && !covered.has(name),
  );
  if (extra.length > 0) {
    throw new S3Error('AccessDenied', `Invalid according to Policy: Extra input fields: ${extra.join(', ')}`);
  }

  const metadata: Record<string, string> = {};
  let metadataBytes = 0;
  for (const [name, value] of form) {
    if (name.startsWith('x-amz-meta-') && name.length > 'x-amz-meta-'.length) {
      const metaName = name.slice('x-amz-meta-'.length);
      metadata[metaName] = value;
      metadataBytes += metaName.length + Buffer.byteLength(value);
    }
  }
  if (metadataBytes > MAX_METADATA_BYTES) {
    throw new S3Error(
      'MetadataTooLarge',
      `Your metadata headers exceed the maximum allowed metadata size: the x-amz-meta-* fields total ${metadataBytes} bytes, the limit is ${MAX_METADATA_BYTES}.`,
      { MaxSizeAllowed: MAX_METADATA_BYTES },
    );
  }
  const status = Number(form.get('success_action_status'));
  return {
    key,
    contentType: form.get('content-type'),
    fields: Object.fromEntries(form),
    metadata,
    cacheControl: form.get('cache-control'),
    contentDisposition: form.get('content-disposition'),
    // S3 answers 204 for a missing or unrecognised status, so anything else is left unset.
    successActionStatus: status === 200 || status === 201 || status === 204 ? status : undefined,
    successActionRedirect: redirectTarget(form.get('success_action_redirect') ?? form.get('redirect')),
    checksum: readChecksum(form),
    contentMd5: readContentMd5(form),
    accessKeyId: accessKey.accessKeyId,
    minBytes,
    maxBytes,
  };
}

/** Checks the SigV4 fields and the signature over the base64 policy; returns the signing key pair. */
function authenticate(form: Map<string, string>, opts: PostUploadOptions): AccessKey {
  const v4Fields = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'];
  const hasV4 = v4Fields.some((f) => form.has(f));
  if (!hasV4 && (form.has('awsaccesskeyid') || form.has('signature'))) {
    throw new S3Error(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  }
  if (!hasV4) {
    throw new S3Error(
      'AccessDenied',
      'Access Denied: anonymous POST uploads are not allowed; sign the form with a policy and x-amz-signature.',
    );
  }
  for (const field of ['policy', ...v4Fields]) {
    if (!form.get(field)) throw missingField(field);
  }
  const algorithm = form.get('x-amz-algorithm')!;
  if (algorithm !== ALGORITHM) {
    throw new S3Error(
      'InvalidArgument',
      `X-Amz-Algorithm only supports "${ALGORITHM}", not "${algorithm}".`,
      {
        ArgumentName: 'x-amz-algorithm',
        ArgumentValue: algorithm,
      },
    );
  }

  const credential = form.get('x-amz-credential')!;
  const parts = credential.split('/');
  const [accessKeyId, date, region, service, terminal] = parts;
  if (parts.length !== 5 || !accessKeyId || !date || !region || !service || !terminal) {
    throw credentialError(
      'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  if (region !== opts.region) {
    throw credentialError(`the region '${region}' is wrong; expecting '${opts.region}'`, {
      Region: opts.region,
    });
  }
  if (service !== 's3')
    throw credentialError(`incorrect service "${service}". This endpoint belongs to "s3".`);
  if (terminal !== 'aws4_request') {
    throw credentialError(`incorrect terminal "${terminal}". This endpoint uses "aws4_request".`);
  }
  const amzDate = form.get('x-amz-date')!;
  if (!/^\d{8}T\d{6}Z$/.test(amzDate)) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'", got "${amzDate.slice(0, 64)}".`,
    );
  }
  if (!/^\d{8}$/.test(date) || amzDate.slice(0, 8) !== date) {
    throw new S3Error(
      'AuthorizationQueryParametersError',
      `Invalid credential date "${date}". Date is not the same as X-Amz-Date ("${amzDate.slice(0, 8)}").`,
    );
  }

  const key = opts.keys.find((k) => k.accessKeyId === accessKeyId);
  if (!key) {
    throw new S3Error('InvalidAccessKeyId', undefined, { AWSAccessKeyId: accessKeyId });
  }
  const policy = form.get('policy')!;
  const provided = form.get('x-amz-signature')!.toLowerCase();
  let signingKey: Buffer = hmac(`AWS4${key.secretAccessKey}`, date);
  for (const part of [region, 's3', 'aws4_request']) signingKey = hmac(signingKey, part);
  const expected = hmac(signingKey, policy);
  const matches = /^[0-9a-f]{64}$/.test(provided) && timingSafeEqual(expected, Buffer.from(provided, 'hex'));
  if (!matches) {
    throw new S3Error('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: accessKeyId,
      StringToSign: policy,
      SignatureProvided: provided,
    });
  }
  return key;
}

type Condition =
  | { op: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { op: 'content-length-range'; min: number; max: number };

interface Policy {
  expiration: string;
  conditions: Condition[];
}

/** Decodes the base64 JSON policy; anything S3 would not accept is an InvalidPolicyDocument naming the problem. */
function parsePolicy(encoded: string): Policy {
  const compact = encoded.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw invalidPolicy('the policy field is not valid base64.');
  }
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64')));
  } catch {
    throw invalidPolicy('Invalid JSON.');
  }
  if (!isRecord(doc)) throw invalidPolicy('the policy must be a JSON object.');
  if (doc.expiration === undefined) throw invalidPolicy('Policy missing expiration.');
  if (
    typeof doc.expiration !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/.test(doc.expiration) ||
    Number.isNaN(Date.parse(doc.expiration))
  ) {
    throw invalidPolicy(
      `Invalid 'expiration' value: '${String(doc.expiration).slice(0, 64)}' (expected e.g. 2030-01-01T00:00:00Z).`,
    );
  }
  if (doc.conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  if (!Array.isArray(doc.conditions)) throw invalidPolicy("the 'conditions' value must be a JSON array.");
  return { expiration: doc.expiration, conditions: doc.conditions.map(parseCondition) };
}

function parseCondition(raw: unknown): Condition {
  if (isRecord(raw)) {
    const entries = Object.entries(raw);
    const [entry] = entries;
    if (entries.length !== 1 || !entry) {
      throw invalidPolicy(
        'Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.',
      );
    }
    const [name, value] = entry;
    if (typeof value !== 'string') {
      throw invalidPolicy(`Invalid Simple-Condition: the value of "${name}" must be a string.`);
    }
    // S3 reports simple conditions in their array form.
    return { op: 'eq', field: name.toLowerCase(), value, text: formatCondition(['eq', `$${name}`, value]) };
  }
  if (!Array.isArray(raw) || typeof raw[0] !== 'string') {
    throw invalidPolicy(
      `Invalid Condition: ${preview(raw)} is neither an object nor an [operation, ...] array.`,
    );
  }
  const op = raw[0].toLowerCase();
  if (op === 'content-length-range') {
    const [min, max] = [toSize(raw[1]), toSize(raw[2])];
    if (raw.length !== 3 || min === undefined || max === undefined) {
      throw invalidPolicy(
        `Invalid content-length-range condition ${preview(raw)}: expected ["content-length-range", min, max] with non-negative integers.`,
      );
    }
    return { op, min, max };
  }
  if (op !== 'eq' && op !== 'starts-with') {
    throw invalidPolicy(
      `Invalid Condition: unknown operation "${raw[0]}" in ${preview(raw)}; use eq, starts-with or content-length-range.`,
    );
  }
  const [, field, value] = raw;
  if (raw.length !== 3 || typeof field !== 'string' || typeof value !== 'string') {
    throw invalidPolicy(
      `Invalid Condition: ${preview(raw)} must be ["${op}", "$field", "value"] with string values.`,
    );
  }
  if (!field.startsWith('$') || field.length < 2) {
    throw invalidPolicy(
      `Invalid Condition: the field name "${field}" in ${preview(raw)} must start with "$".`,
    );
  }
  return { op, field: field.slice(1).toLowerCase(), value, text: formatCondition(raw) };
}

function startsWith(field: string, actual: string, prefix: string): boolean {
  // S3 lets a Content-Type field list several types, and each must match.
  if (field === 'content-type') return actual.split(',').every((t) => t.trim().startsWith(prefix));
  return actual.startsWith(prefix);
}

function redirectTarget(url: string | undefined): string | undefined {
  // S3 acts as if success_action_redirect were absent when it cannot interpret the URL.
  return url !== undefined && URL.canParse(url) ? url : undefined;
}

function readChecksum(form: Map<string, string>): PostUpload['checksum'] {
  const present = [...form.keys()].filter(
    (n) => n.startsWith('x-amz-checksum-') && n !== 'x-amz-checksum-algorithm',
  );
  if (present.includes('x-amz-checksum-crc64nvme')) {
    throw new S3Error(
      'NotImplemented',
      'x-amz-checksum-crc64nvme is not supported by this server; use CRC32, CRC32C, SHA1 or SHA256.',
    );
  }
  const known = present.filter((n) => n in CHECKSUMS);
  if (known.length > 1) {
    throw new S3Error(
      'InvalidRequest',
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  }
  const [name] = known;
  if (name === undefined) return undefined;
  const spec = CHECKSUMS[name]!;
  const value = form.get(name)!;
  if (decodedLength(value) !== spec.bytes) {
    throw new S3Error('InvalidRequest', `Value for ${name} header is invalid.`);
  }
  return { algorithm: spec.algorithm, value };
}

function readContentMd5(form: Map<string, string>): string | undefined {
  const value = form.get('content-md5');
  if (value === undefined) return undefined;
  if (decodedLength(value) !== 16) {
    throw new S3Error(
      'InvalidDigest',
      'The Content-MD5 you specified is not valid: expected the base64 of 16 bytes.',
    );
  }
  return value;
}

function decodedLength(b64: string): number {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0) return -1;
  return Buffer.from(b64, 'base64').length;
}

function toSize(v: unknown): number | undefined {
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function formatCondition(items: readonly unknown[]): string {
  // S3 prints conditions with ", " separators, e.g. ["eq", "$key", "a.txt"].
  return `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;
}

function preview(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function missingField(field: string): S3Error {
  // S3 names the field in its canonical capitalisation, e.g. X-Amz-Signature.
  const name =
    field === 'key'
      ? 'key'
      : field.replace(/(^|-)([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
  return new S3Error(
    'InvalidArgument',
    `Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`,
    { ArgumentName: name, ArgumentValue: '' },
  );
}

function credentialError(detail: string, fields: Record<string, string> = {}): S3Error {
  return new S3Error(
    'AuthorizationQueryParametersError',
    `Error parsing the X-Amz-Credential parameter; ${detail}`,
    fields,
  );
}

function invalidPolicy(detail: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${detail}`);
}

function malformed(detail: string, cause?: unknown): S3Error {
  return new S3Error(
    'MalformedPOSTRequest',
    `The body of your POST request is not well-formed multipart/form-data: ${detail}`,
    {},
    { cause },
  );
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^Multipart: /, '').replace(/\.?$/, '.');
}

function toS3Error(err: unknown): S3Error {
  return err instanceof S3Error ? err : new S3Error('InternalError', undefined, {}, { cause: err });
}
