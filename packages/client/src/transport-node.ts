import http from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { FormDataEncoder } from 'form-data-encoder';
import { cancelledError, UploadError } from './errors.ts';
import type { SendRequest, SendResponse } from './send.ts';

/**
 * A multipart/form-data body (fields, then the file) as one Blob, so its length is known up front. The
 * encoding is form-data-encoder's, as browsers do it: names with a quote or a line break are escaped
 * (%22, %0D, %0A), so no field name can end its header early or add one.
 */
function formBody(fields: Record<string, string>, file: Blob): { body: Blob; contentType: string } {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  // S3 takes the file last; the part's type is the one the policy pins.
  form.append(
    'file',
    new File([file], 'file', { type: fields['Content-Type'] ?? 'application/octet-stream' }),
  );
  const encoder = new FormDataEncoder(form);
  // The parts as they are (the file stays a Blob, read only as the request streams it).
  // (Its byte chunks are typed over ArrayBufferLike; they are plain Uint8Arrays over ArrayBuffers.)
  return { body: new Blob([...encoder] as BlobPart[]), contentType: encoder.contentType };
}

/** node:http(s), streaming the Blob with progress counted as the socket takes the bytes. */
export async function nodeTransport(req: SendRequest): Promise<SendResponse> {
  if (req.signal?.aborted) throw cancelledError();
  const url = new URL(req.url);
  let body = req.body;
  const headers: Record<string, string> = { ...req.headers };
  let overhead = 0;
  if (req.fields) {
    const form = formBody(req.fields, req.body);
    overhead = form.body.size - req.body.size;
    body = form.body;
    headers['content-type'] = form.contentType;
  }
  headers['content-length'] = String(body.size);
  return new Promise<SendResponse>((resolve, reject) => {
    const request = (url.protocol === 'https:' ? https : http).request(
      url,
      { method: req.method, headers, signal: req.signal },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            etag: typeof res.headers.etag === 'string' ? res.headers.etag : undefined,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', (err) =>
          reject(
            new UploadError('network_error', 'The connection to storage failed.', undefined, undefined, {
              cause: err,
            }),
          ),
        );
      },
    );
    request.on('error', (err) => {
      if (req.signal?.aborted) reject(cancelledError());
      else
        reject(
          new UploadError(
            'network_error',
            `The connection to storage failed (${(err as NodeJS.ErrnoException).code ?? err.message}).`,
            undefined,
            undefined,
            { cause: err },
          ),
        );
    });
    let sent = 0;
    // Blob.stream() is a web stream; fromWeb gives backpressure-aware piping into the request.
    const source = Readable.fromWeb(body.stream() as unknown as ReadableStream);
    source.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      req.onProgress?.(Math.max(0, Math.min(req.body.size, sent - overhead)));
    });
    source.on('error', (err) => request.destroy(err));
    source.pipe(request);
  });
}
