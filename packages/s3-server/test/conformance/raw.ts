/**
 * @module Requests the SDK would never send (it validates its own input), signed with SigV4 for a target:
 * odd headers, framings and bodies, sent over a plain `http.request` so every byte is the test's.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { S3Target } from './suite.ts';

/** A response read whole. */
export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A request to sign and send: `body` is what the payload hash covers; `chunks`, if given, go out chunked. */
export interface RawRequest {
  method: string;
  path: string;
  query?: Record<string, string>;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Send the body as these pieces with Transfer-Encoding: chunked (Node frames them). */
  chunked?: boolean;
  /** x-amz-content-sha256 to sign instead of the body's hash (e.g. UNSIGNED-PAYLOAD). */
  payloadHash?: string;
  /**
   * Sent with `Expect: 100-continue`; runs once the server has said "100 Continue" (it has checked the
   * request and is about to read the body) and before the body goes out: a write that happens "during".
   */
  beforeBody?: () => Promise<void>;
}

/** Signs a request for the target with SigV4 (header auth) and sends it as given. */
export async function sendSigned(target: S3Target, req: RawRequest): Promise<RawResponse> {
  const url = new URL(target.endpoint);
  const body = req.body ?? '';
  const signer = new SignatureV4({
    service: 's3',
    region: target.region,
    credentials: target.credentials,
    sha256: Sha256,
    uriEscapePath: false,
  });
  const headers: Record<string, string> = {
    host: url.host,
    'x-amz-content-sha256': req.payloadHash ?? createHash('sha256').update(body).digest('hex'),
    ...req.headers,
  };
  const signed = await signer.sign(
    new HttpRequest({
      method: req.method,
      protocol: 'http:',
      hostname: url.hostname,
      port: Number(url.port),
      path: req.path,
      query: req.query ?? {},
      headers,
    }),
  );
  const qs = Object.entries(req.query ?? {})
    .map(([k, v]) => (v === '' ? encodeURIComponent(k) : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
    .join('&');
  const sent = { ...signed.headers };
  if (req.beforeBody) sent.expect = '100-continue';
  if (req.chunked) sent['transfer-encoding'] = 'chunked';
  else if (req.method !== 'GET' && req.method !== 'HEAD')
    sent['content-length'] = String(Buffer.byteLength(body));
  return new Promise((resolve, reject) => {
    const r = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: `${req.path}${qs ? `?${qs}` : ''}`,
        headers: sent,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    if (req.beforeBody) {
      const beforeBody = req.beforeBody;
      r.once('continue', () => {
        beforeBody().then(() => r.end(body), reject);
      });
      r.flushHeaders();
    } else if (req.chunked) {
      const b = Buffer.from(body);
      const half = Math.ceil(b.length / 2);
      r.write(b.subarray(0, half));
      r.end(b.subarray(half));
    } else {
      r.end(body);
    }
  });
}

/** The `<Code>` of an S3 XML error body, if it is one. */
export function errorCodeOf(body: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(body)?.[1];
}
