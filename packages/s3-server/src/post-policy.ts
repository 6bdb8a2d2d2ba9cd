/**
 * The pure half of browser POST uploads (POST Object with a SigV4-signed policy): authenticating a form's
 * policy with the shared SigV4 code, and evaluating the policy against the form's fields, as Amazon S3 does.
 * No I/O and no streams: the form reader (`post-form.ts`) hands over the fields it read before the file.
 * See "Authenticating Requests in Browser-Based Uploads Using POST (AWS Signature Version 4)".
 */
import {
  type AccessKey,
  type ChecksumAlgorithm,
  findChecksum,
  verifyPolicySignature,
} from '@darkroom/aws-auth';
import { asS3Error, S3Error } from './errors.ts';

/** What a form asks to store, once its signature and policy hold. */
export interface AuthorizedPost {
  /** After `${filename}` substitution. */
  key: string;
  /** From the Content-Type form field (not the file part's own header), as S3 does. */
  contentType: string | undefined;
  /** Every form field before the file, names lowercased. */
  fields: Record<string, string>;
  /** x-amz-meta-* fields, without the prefix, names lowercased. */
  metadata: Record<string, string>;
  cacheControl: string | undefined;
  contentDisposition: string | undefined;
  successActionStatus: 200 | 201 | 204 | undefined;
  successActionRedirect: string | undefined;
  /** From an x-amz-checksum-* field; the caller verifies it against the stored bytes. */
  checksum: { algorithm: ChecksumAlgorithm; value: string } | undefined;
  /** Base64 MD5 from the Content-MD5 field (shape already checked); the caller verifies it. */
  contentMd5: string | undefined;
  accessKeyId: string;
  /** The file's allowed length: the policy's content-length-range within the server's own limit. */
  minBytes: number;
  maxBytes: number;
}

export interface PostPolicyOptions {
  keys: readonly AccessKey[];
  region: string;
  now: Date;
  maxObjectBytes: number;
}

/** One policy condition, field names lowercased and without their `$`. */
export type PolicyCondition =
  | { op: 'eq' | 'starts-with'; field: string; value: string; text: string }
  | { op: 'content-length-range'; min: number; max: number };

/** A decoded policy document. */
export interface PostPolicy {
  expiration: string;
  conditions: PolicyCondition[];
}

// biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal key placeholder, not a template.
const FILENAME_PLACEHOLDER = '${filename}';
const MAX_KEY_BYTES = 1024;
const MAX_METADATA_BYTES = 2048;
// Fields S3 never requires a policy condition for.
const UNCHECKED_FIELDS = new Set(['x-amz-signature', 'file', 'policy']);
const V4_FIELDS = ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'] as const;

/**
 * Authenticates a form (its fields before the file, names lowercased) and checks them against its policy;
 * `filename` is the file part's name, for `${filename}` in the key. Throws the S3Error S3 would answer.
 */
export async function authorizePostForm(
  form: ReadonlyMap<string, string>,
  filename: string,
  bucket: string,
  opts: PostPolicyOptions,
): Promise<AuthorizedPost> {
  const rawKey = form.get('key');
  if (!rawKey) throw missingField('key');
  const accessKey = await authenticate(form, opts);
  const policy = parsePolicy(form.get('policy')!);

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
  const { minBytes, maxBytes } = evaluatePolicy(policy, form, {
    bucket,
    key,
    now: opts.now,
    maxObjectBytes: opts.maxObjectBytes,
  });
  const status = Number(form.get('success_action_status'));
  return {
    key,
    contentType: form.get('content-type'),
    fields: Object.fromEntries(form),
    metadata: readMetadata(form),
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

/**
 * Checks a decoded policy against the form at `now`: not expired, every eq / starts-with condition met
 * (`bucket` and `key` are the request's bucket and the substituted key), and no field the policy does
 * not cover. Returns the allowed file length.
 */
export function evaluatePolicy(
  policy: PostPolicy,
  form: ReadonlyMap<string, string>,
  at: { bucket: string; key: string; now: Date; maxObjectBytes: number },
): { minBytes: number; maxBytes: number } {
  if (at.now.getTime() > Date.parse(policy.expiration)) {
    throw new S3Error('AccessDenied', 'Invalid according to Policy: Policy expired.');
  }
  const fieldValue = (field: string): string => {
    // The bucket condition is about where the object lands, which is the request's bucket.
    if (field === 'bucket') return at.bucket;
    if (field === 'key') return at.key;
    return form.get(field) ?? '';
  };
  let minBytes = 0;
  let maxBytes = at.maxObjectBytes;
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
  return { minBytes, maxBytes };
}

/** Decodes the base64 JSON policy; anything S3 would not accept is an InvalidPolicyDocument naming the problem. */
export function parsePolicy(encoded: string): PostPolicy {
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
    !isRealInstant(doc.expiration)
  ) {
    throw invalidPolicy(
      `Invalid 'expiration' value: '${String(doc.expiration).slice(0, 64)}' (expected e.g. 2030-01-01T00:00:00Z).`,
    );
  }
  if (doc.conditions === undefined) throw invalidPolicy('Policy missing conditions.');
  if (!Array.isArray(doc.conditions)) throw invalidPolicy("the 'conditions' value must be a JSON array.");
  return { expiration: doc.expiration, conditions: doc.conditions.map(parseCondition) };
}

/** Whether an ISO timestamp names a real instant (Date.parse would roll 2026-02-31 over into March). */
function isRealInstant(iso: string): boolean {
  const ms = Date.parse(iso);
  return !Number.isNaN(ms) && new Date(ms).toISOString().slice(0, 19) === iso.slice(0, 19);
}

/** Checks the form's SigV4 fields and the signature over its policy; returns the signing key pair. */
async function authenticate(form: ReadonlyMap<string, string>, opts: PostPolicyOptions): Promise<AccessKey> {
  const hasV4 = V4_FIELDS.some((f) => form.has(f));
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
  for (const field of ['policy', ...V4_FIELDS]) {
    if (!form.get(field)) throw missingField(field);
  }
  try {
    return await verifyPolicySignature(
      {
        algorithm: form.get('x-amz-algorithm')!,
        credential: form.get('x-amz-credential')!,
        date: form.get('x-amz-date')!,
        signature: form.get('x-amz-signature')!,
        policy: form.get('policy')!,
      },
      opts.keys,
      { region: opts.region },
    );
  } catch (err) {
    throw asS3Error(err) ?? err;
  }
}

function parseCondition(raw: unknown): PolicyCondition {
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

function readMetadata(form: ReadonlyMap<string, string>): Record<string, string> {
  const metadata: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of form) {
    if (name.startsWith('x-amz-meta-') && name.length > 'x-amz-meta-'.length) {
      const metaName = name.slice('x-amz-meta-'.length);
      metadata[metaName] = value;
      bytes += metaName.length + Buffer.byteLength(value);
    }
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw new S3Error(
      'MetadataTooLarge',
      `Your metadata headers exceed the maximum allowed metadata size: the x-amz-meta-* fields total ${bytes} bytes, the limit is ${MAX_METADATA_BYTES}.`,
      { MaxSizeAllowed: MAX_METADATA_BYTES },
    );
  }
  return metadata;
}

function redirectTarget(url: string | undefined): string | undefined {
  // S3 acts as if success_action_redirect were absent when it cannot interpret the URL.
  return url !== undefined && URL.canParse(url) ? url : undefined;
}

/** The form's x-amz-checksum-* field, by the same rules as a request's headers (one at most, right length). */
function readChecksum(form: ReadonlyMap<string, string>): AuthorizedPost['checksum'] {
  try {
    return findChecksum((name) => form.get(name));
  } catch (err) {
    throw asS3Error(err) ?? err;
  }
}

function readContentMd5(form: ReadonlyMap<string, string>): string | undefined {
  const value = form.get('content-md5');
  if (value === undefined) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || Buffer.from(value, 'base64').length !== 16) {
    throw new S3Error(
      'InvalidDigest',
      'The Content-MD5 you specified is not valid: expected the base64 of 16 bytes.',
    );
  }
  return value;
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

function invalidPolicy(detail: string): S3Error {
  return new S3Error('InvalidPolicyDocument', `Invalid Policy: ${detail}`);
}
