import { cancelledError, UploadError } from './errors.ts';
import type { SendRequest, SendResponse } from './send.ts';

/** XMLHttpRequest, because fetch still reports no upload progress in most browsers. */
export function xhrTransport(req: SendRequest): Promise<SendResponse> {
  return new Promise((resolve, reject) => {
    if (req.signal?.aborted) return reject(cancelledError());
    const xhr = new XMLHttpRequest();
    xhr.open(req.method, req.url);
    for (const [k, v] of Object.entries(req.headers ?? {})) {
      // The browser sets Content-Length from the body itself and refuses to be told.
      if (k.toLowerCase() !== 'content-length') xhr.setRequestHeader(k, v);
    }
    let body: Blob | FormData = req.body;
    if (req.fields) {
      const form = new FormData();
      for (const [k, v] of Object.entries(req.fields)) form.append(k, v);
      form.append('file', req.body);
      body = form;
    }
    xhr.upload.onprogress = (e) => {
      // A form's total includes the fields and boundaries: scale to the file's bytes.
      const sent = e.lengthComputable && e.total > 0 ? (e.loaded / e.total) * req.body.size : e.loaded;
      req.onProgress?.(Math.min(req.body.size, Math.round(sent)));
    };
    const onAbort = () => xhr.abort();
    req.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => req.signal?.removeEventListener('abort', onAbort);
    xhr.onload = () => {
      done();
      resolve({
        status: xhr.status,
        etag: xhr.getResponseHeader('etag') ?? undefined,
        text: xhr.responseText,
      });
    };
    xhr.onerror = () => {
      done();
      reject(new UploadError('network_error', 'The connection to storage failed.'));
    };
    xhr.ontimeout = () => {
      done();
      reject(new UploadError('timeout', 'Storage did not answer in time.'));
    };
    xhr.onabort = () => {
      done();
      reject(cancelledError());
    };
    xhr.send(body);
  });
}
