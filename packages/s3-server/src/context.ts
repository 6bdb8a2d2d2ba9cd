import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AccessKey, VerifiedAuth } from '@darkroom/aws-auth';
import type { Logger } from 'pino';
import type { NotificationRouter } from './notifications.ts';
import type { ObjectStore } from './store/object-store.ts';

/** What the embedded S3 server needs from the configuration. */
export interface S3ServerOptions {
  region: string;
  /** Base domain for virtual-host-style requests: `{bucket}.{domain}`. */
  domain: string;
  accessKeys: readonly AccessKey[];
  /** Largest single PUT/POST/part accepted, as on S3 (5 GiB). */
  maxObjectBytes: number;
}

/** One S3 request as the handlers see it: parsed addressing, verified caller, and the response. */
export interface S3Request {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly id: string;
  readonly method: string;
  readonly rawPath: string;
  readonly query: Record<string, string | string[]>;
  readonly bucket: string | undefined;
  readonly key: string | undefined;
  auth: VerifiedAuth | undefined;
  /** Set when the client sent `Expect: 100-continue` and has not been told to go on yet. */
  awaitingContinue: boolean;
  readonly store: ObjectStore;
  readonly notifications: NotificationRouter;
  readonly options: S3ServerOptions;
  readonly log: Logger;
}

/** A query parameter's single value (the first when repeated). */
export function queryValue(r: S3Request, name: string): string | undefined {
  const v = r.query[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A request header's single value. */
export function header(r: S3Request, name: string): string | undefined {
  const v = r.req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A header, or for presigned URLs the same name hoisted into the query string. */
export function headerOrQuery(r: S3Request, name: string): string | undefined {
  return header(r, name) ?? queryValue(r, name) ?? queryValue(r, name.toLowerCase());
}

/** Tells a client waiting on `Expect: 100-continue` to send the body (only once auth has passed). */
export function continueBody(r: S3Request): void {
  if (r.awaitingContinue) {
    r.awaitingContinue = false;
    r.res.writeContinue();
  }
}

/** Sends an S3 XML document. */
export function sendXml(
  r: S3Request,
  status: number,
  xml: string,
  headers: Record<string, string> = {},
): void {
  r.res.writeHead(status, {
    ...headers,
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(xml),
  });
  r.res.end(xml);
}

/** Sends a response without a body. */
export function sendEmpty(r: S3Request, status: number, headers: Record<string, string | number> = {}): void {
  r.res.writeHead(status, { ...headers, 'content-length': 0 });
  r.res.end();
}

/**
 * S3's timestamps in XML: ISO 8601 with milliseconds, always `.000`: S3 keeps whole seconds, so a listing's
 * LastModified equals the object's Last-Modified header (ceph/s3-tests compares the two).
 */
export function isoDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString();
}

/** ETags travel quoted in headers and XML. */
export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}
