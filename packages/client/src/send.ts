import { UploadError } from './errors.ts';

// The request and answer every transport speaks, and how storage's answers read; transport.ts picks the
// transport, which imports these (so neither imports the other: no cycle).

/** One request that carries bytes to storage. */
export interface SendRequest {
  method: 'PUT' | 'POST';
  url: string;
  /** Sent exactly (presigned URLs sign some of them). */
  headers?: Record<string, string>;
  body: Blob;
  /** POST form: these fields first, then the file (S3 wants the file last). */
  fields?: Record<string, string>;
  signal?: AbortSignal | undefined;
  /** Bytes of `body` sent so far. */
  onProgress?: (sent: number) => void;
}

/** Storage's answer (any status; the caller decides what it means). */
export interface SendResponse {
  status: number;
  etag: string | undefined;
  text: string;
}

/** Sends bytes to a presigned URL: XHR in browsers (upload progress), node:http(s) in Node. */
export type Transport = (req: SendRequest) => Promise<SendResponse>;

/** The S3 error code and message of an XML error body. */
export function s3Error(text: string): { code?: string; message?: string } {
  return {
    ...(/<Code>([^<]+)<\/Code>/.exec(text)?.[1] ? { code: /<Code>([^<]+)<\/Code>/.exec(text)![1] } : {}),
    ...(/<Message>([^<]+)<\/Message>/.exec(text)?.[1]
      ? { message: /<Message>([^<]+)<\/Message>/.exec(text)![1] }
      : {}),
  };
}

/** A 403 because the presigned URL's time ran out: presign again and retry. */
export function isExpired(res: SendResponse): boolean {
  return res.status === 403 && /expired/i.test(res.text);
}

/** Turns a non-2xx storage answer into an UploadError (5xx stays retryable through `status`). */
export function storageError(res: SendResponse): UploadError {
  const { code, message } = s3Error(res.text);
  const human =
    res.status >= 500
      ? `Storage is unavailable (${res.status}${code ? ` ${code}` : ''}).`
      : `Storage refused the upload (${res.status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}).`;
  return new UploadError(res.status >= 500 ? 'http_error' : 'storage_rejected', human, res.status);
}
