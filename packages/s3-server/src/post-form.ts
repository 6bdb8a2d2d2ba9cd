/**
 * The form half of browser POST uploads: reads a multipart/form-data body as Amazon S3 does. Every field
 * before the file is held (within bounds), then authenticated and matched against the policy
 * (`post-policy.ts`) before a single file byte is handed to the caller, and the file is streamed with its
 * size limits enforced on the fly.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import busboy from 'busboy';
import { S3Error } from './errors.ts';
import { type AuthorizedPost, authorizePostForm, type PostPolicyOptions } from './post-policy.ts';

/** A form whose signature and policy hold, with its file still to be read. */
export interface PostUpload extends Omit<AuthorizedPost, 'minBytes' | 'maxBytes'> {
  /**
   * The file bytes, already checked against every policy condition except length; it errors with S3Error
   * EntityTooLarge/EntityTooSmall as soon as the content-length-range is violated, without buffering.
   */
  file: Readable;
  /** Resolves when the whole form has been consumed; rejects with S3Error if anything after the file is malformed. */
  done: Promise<void>;
}

export type PostUploadOptions = PostPolicyOptions;

// Hostile-input bounds: the form before the file is held in memory, so it must stay small.
const MAX_FIELDS = 100;
const MAX_FIELD_BYTES = 20 * 1024;
const MAX_FIELD_NAME_CHARS = 1024;
const MAX_PRE_FILE_BYTES = 64 * 1024;

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
    let phase: 'fields' | 'authorizing' | 'file' | 'complete' | 'failed' = 'fields';
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
      // Fields after the file are ignored from here on; the file waits, unread, for the verdict.
      phase = 'authorizing';
      authorizePostForm(form, info.filename ?? '', bucket, opts).then(
        (authorized) => {
          if (phase === 'authorizing') startFile(src, authorized);
          else src.resume();
        },
        (err: unknown) => {
          src.resume();
          fail(toS3Error(err));
        },
      );
    });

    const startFile = (src: Readable, authorized: AuthorizedPost): void => {
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
    };

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
