import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Sha256 } from '@aws-crypto/sha256-js';
import { createScope, getSigningKey } from '@smithy/signature-v4';
import { canonicalRequest, stringToSign } from './canonical.ts';
import { AwsRequestError } from './errors.ts';
import {
  type AuthSource,
  type Credential,
  formatAmzDate,
  headerValue,
  parseAmzDate,
  parseAuthorizationHeader,
  parseCredential,
} from './parse.ts';

/** A key pair a server accepts: requests signed with the secret under this id verify. */
export interface AccessKey {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export interface SignedRequest {
  method: string;
  /** Path exactly as received on the wire, percent-encoded, without the query string. */
  rawPath: string;
  /** Decoded query parameters, as parseQuery returns them. */
  query: Record<string, string | string[]>;
  /** Node's lowercased headers. */
  headers: IncomingHttpHeaders;
  /** Node's req.headersDistinct; when given, repeated headers are signed as SigV4 joins them (',' not ', '). */
  headersDistinct?: NodeJS.Dict<string[]>;
}

export interface VerifiedAuth {
  accessKeyId: string;
  via: 'header' | 'presigned';
  /**
   * x-amz-content-sha256 as sent for header auth ('UNSIGNED-PAYLOAD', a hex sha256, or a STREAMING-* value);
   * 'UNSIGNED-PAYLOAD' for presigned URLs unless the URL itself carries X-Amz-Content-Sha256.
   */
  payloadHash: string;
  /** What the aws-chunked decoder needs to check chunk and trailer signatures. */
  signing: { key: Uint8Array; longDate: string; scope: string; seedSignature: string };
}

export interface VerifyOptions {
  region: string;
  now: Date;
  /** The signing name the credential scope must carry: 's3' (the default) or 'sqs' for the SQS server. */
  service?: 's3' | 'sqs';
  /**
   * Hex SHA-256 of the body, for servers that read it before authenticating (SQS). Their clients send no
   * x-amz-content-sha256, so for header auth the payload hash is this one, computed from what was received.
   */
  bodySha256?: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_PRESIGNED_EXPIRES = 604800;
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Signature',
  'X-Amz-Date',
  'X-Amz-SignedHeaders',
  'X-Amz-Expires',
] as const;
const VALID_PAYLOAD_HASHES = new Set([
  UNSIGNED_PAYLOAD,
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
]);

/** Everything taken from the Authorization header or the presigned query, before the signature check. */
interface AuthParams {
  source: AuthSource;
  credential: string;
  signedHeaders: string;
  signature: string;
  longDate: string;
  date: Date;
  payloadHash: string;
  /** Presigned URLs only: X-Amz-Expires in seconds. */
  expires?: number;
  /** The query the client signed: X-Amz-Signature is skipped by smithy's getCanonicalQuery itself. */
  query: Record<string, string | string[]>;
}

/** Decodes a raw query string as S3 does: '+' stays '+', repeated keys become arrays; prototype-free. */
export function parseQuery(rawQuery: string): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null);
  const text = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  if (text === '') return query;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else if (Array.isArray(existing)) existing.push(value);
    else query[key] = [existing, value];
  }
  return query;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    // Malformed escapes are kept verbatim; such a request then simply fails its signature check.
    return text;
  }
}

/** Verifies an S3 request's SigV4 signature (Authorization header or presigned URL) as Amazon S3 does. */
export async function verifySignature(
  req: SignedRequest,
  keys: readonly AccessKey[],
  opts: VerifyOptions,
): Promise<VerifiedAuth> {
  const authorization = single(req.headers.authorization);
  const presigned =
    'X-Amz-Algorithm' in req.query || 'X-Amz-Credential' in req.query || 'X-Amz-Signature' in req.query;
  if (authorization !== undefined && presigned) {
    throw new AwsRequestError(
      'InvalidArgument',
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      { ArgumentName: 'Authorization', ArgumentValue: authorization },
    );
  }
  let params: AuthParams;
  if (authorization !== undefined) params = fromHeader(req, authorization, opts.bodySha256);
  else if (presigned) params = fromQuery(req);
  else if ('AWSAccessKeyId' in req.query && 'Signature' in req.query) {
    // A SigV2 presigned URL (AWS CLI v1's default for `s3 presign`): say so rather than "Access Denied".
    throw new AwsRequestError(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  } else throw new AwsRequestError('AccessDenied');

  const credential = parseCredential(
    params.credential,
    params.source,
    opts.region,
    params.longDate,
    opts.service ?? 's3',
  );
  const key = findKey(keys, credential);

  checkTime(params, opts.now);
  const signedHeaders = params.signedHeaders.split(';').map((h) => h.trim().toLowerCase());
  checkUnsignedHeaders(req.headers, new Set(signedHeaders));

  const picked: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = headerValue(req.headers, req.headersDistinct, name);
    // A signed header the request lacks drops out of the canonical form, so the signature cannot match.
    if (value !== undefined && !Object.hasOwn(picked, name)) picked[name] = value;
  }
  const canonical = canonicalRequest({
    method: req.method,
    rawPath: req.rawPath,
    query: params.query,
    headers: picked,
    signedHeaders,
    payloadHash: params.payloadHash,
  });
  const scope = createScope(credential.shortDate, credential.region, credential.service);
  const toSign = await stringToSign(params.longDate, scope, canonical);
  const signingKey = await signingKeyFor(key, credential);
  const expected = createHmac('sha256', signingKey).update(toSign).digest('hex');
  if (!sameSignature(expected, params.signature)) {
    throw new AwsRequestError('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: credential.accessKeyId,
      StringToSign: toSign,
      SignatureProvided: params.signature,
      CanonicalRequest: canonical,
    });
  }
  return {
    accessKeyId: credential.accessKeyId,
    via: params.source,
    payloadHash: params.payloadHash,
    signing: { key: signingKey, longDate: params.longDate, scope, seedSignature: expected },
  };
}

/** The form fields that sign a browser POST upload's policy (SigV4's POST flavour), as sent. */
export interface PolicySignatureFields {
  /** `x-amz-algorithm` */
  algorithm: string;
  /** `x-amz-credential` */
  credential: string;
  /** `x-amz-date` */
  date: string;
  /** `x-amz-signature` */
  signature: string;
  /** `policy`: the base64 policy document, which is itself the string to sign. */
  policy: string;
}

/**
 * Verifies the signature of a browser POST form's policy as Amazon S3 does: the same credential scope,
 * date and key derivation as a signed request, with the base64 policy as the string to sign. No clock
 * check here: the policy's own `expiration` bounds a form. Returns the key pair that signed it.
 */
export async function verifyPolicySignature(
  fields: PolicySignatureFields,
  keys: readonly AccessKey[],
  opts: { region: string; service?: 's3' },
): Promise<AccessKey> {
  if (fields.algorithm !== ALGORITHM) {
    throw new AwsRequestError(
      'InvalidArgument',
      `X-Amz-Algorithm only supports "${ALGORITHM}", not "${fields.algorithm}".`,
      { ArgumentName: 'x-amz-algorithm', ArgumentValue: fields.algorithm },
    );
  }
  // An impossible date (20260231) is refused like a malformed one: S3 does not roll it into March.
  if (!parseAmzDate(fields.date)) {
    throw new AwsRequestError(
      'AuthorizationQueryParametersError',
      `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'", got "${fields.date.slice(0, 64)}".`,
    );
  }
  const credential = parseCredential(
    fields.credential,
    'presigned',
    opts.region,
    fields.date,
    opts.service ?? 's3',
  );
  const key = findKey(keys, credential);
  const expected = createHmac('sha256', await signingKeyFor(key, credential))
    .update(fields.policy, 'utf8')
    .digest('hex');
  const provided = fields.signature.toLowerCase();
  if (!sameSignature(expected, provided)) {
    throw new AwsRequestError('SignatureDoesNotMatch', undefined, {
      AWSAccessKeyId: credential.accessKeyId,
      StringToSign: fields.policy,
      SignatureProvided: provided,
    });
  }
  return key;
}

function findKey(keys: readonly AccessKey[], credential: Credential): AccessKey {
  const key = keys.find((k) => k.accessKeyId === credential.accessKeyId);
  if (!key) {
    throw new AwsRequestError('InvalidAccessKeyId', undefined, { AWSAccessKeyId: credential.accessKeyId });
  }
  return key;
}

/** SigV4's derived key for the credential's scope (smithy's derivation, cached by smithy per scope). */
function signingKeyFor(key: AccessKey, credential: Credential): Promise<Uint8Array> {
  return getSigningKey(Sha256, key, credential.shortDate, credential.region, credential.service);
}

function fromHeader(req: SignedRequest, authorization: string, bodySha256: string | undefined): AuthParams {
  const { credential, signedHeaders, signature } = parseAuthorizationHeader(authorization);
  const amzDate = single(req.headers['x-amz-date']);
  const httpDate = single(req.headers.date);
  let date: Date | undefined;
  let longDate: string | undefined;
  if (amzDate !== undefined) {
    date = parseAmzDate(amzDate);
    longDate = amzDate;
  } else if (httpDate !== undefined) {
    const ms = Date.parse(httpDate);
    date = Number.isNaN(ms) ? undefined : new Date(ms);
    longDate = date && formatAmzDate(date);
  }
  if (!date || !longDate) {
    throw new AwsRequestError(
      'AccessDenied',
      'AWS authentication requires a valid Date or x-amz-date header',
    );
  }
  const payloadHash = bodySha256 ?? single(req.headers['x-amz-content-sha256']);
  if (payloadHash === undefined) {
    throw new AwsRequestError(
      'InvalidRequest',
      'Missing required header for this request: x-amz-content-sha256',
    );
  }
  if (bodySha256 === undefined) checkPayloadHash(payloadHash);
  return {
    source: 'header',
    credential,
    signedHeaders,
    signature,
    longDate,
    date,
    payloadHash,
    query: req.query,
  };
}

function fromQuery(req: SignedRequest): AuthParams {
  const values: Partial<Record<(typeof PRESIGN_PARAMS)[number], string>> = {};
  for (const name of PRESIGN_PARAMS) {
    const value = req.query[name];
    if (typeof value !== 'string' || value === '') {
      throw new AwsRequestError(
        'AuthorizationQueryParametersError',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    values[name] = value;
  }
  if (values['X-Amz-Algorithm'] !== 'AWS4-HMAC-SHA256') {
    throw new AwsRequestError(
      'AuthorizationQueryParametersError',
      'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"',
    );
  }
  const longDate = values['X-Amz-Date']!;
  const date = parseAmzDate(longDate);
  if (!date) {
    throw new AwsRequestError(
      'AuthorizationQueryParametersError',
      "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
    );
  }
  const expiresText = values['X-Amz-Expires']!;
  if (!/^-?\d+$/.test(expiresText)) {
    throw new AwsRequestError('AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  }
  const expires = Number(expiresText);
  if (expires < 1) {
    throw new AwsRequestError('AuthorizationQueryParametersError', 'X-Amz-Expires must be non-negative');
  }
  if (expires > MAX_PRESIGNED_EXPIRES) {
    throw new AwsRequestError(
      'AuthorizationQueryParametersError',
      'X-Amz-Expires must be less than a week (in seconds) that is 7 days',
    );
  }
  const urlPayloadHash = req.query['X-Amz-Content-Sha256'];
  const payloadHash = typeof urlPayloadHash === 'string' ? urlPayloadHash : UNSIGNED_PAYLOAD;
  checkPayloadHash(payloadHash);
  return {
    source: 'presigned',
    credential: values['X-Amz-Credential']!,
    signedHeaders: values['X-Amz-SignedHeaders']!,
    signature: values['X-Amz-Signature']!,
    longDate,
    date,
    payloadHash,
    query: req.query,
    expires,
  };
}

function checkTime(params: AuthParams, now: Date): void {
  const skew = params.date.getTime() - now.getTime();
  if (params.source === 'header') {
    if (Math.abs(skew) > MAX_SKEW_MS) {
      throw new AwsRequestError('RequestTimeTooSkewed', undefined, {
        RequestTime: params.longDate,
        ServerTime: isoSeconds(now),
        MaxAllowedSkewMilliseconds: MAX_SKEW_MS,
      });
    }
    return;
  }
  if (skew > MAX_SKEW_MS) throw new AwsRequestError('AccessDenied', 'Request is not valid yet');
  const expires = params.expires ?? 0;
  const expiry = new Date(params.date.getTime() + expires * 1000);
  if (now.getTime() > expiry.getTime()) {
    throw new AwsRequestError('AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: isoSeconds(expiry),
      ServerTime: isoSeconds(now),
    });
  }
}

/** S3 insists host and every x-amz-* header sent are covered by the signature. */
function checkUnsignedHeaders(headers: IncomingHttpHeaders, signed: ReadonlySet<string>): void {
  const missing: string[] = [];
  if (!signed.has('host')) missing.push('host');
  for (const name of Object.keys(headers)) {
    if (name.startsWith('x-amz-') && !signed.has(name)) missing.push(name);
  }
  if (missing.length > 0) {
    throw new AwsRequestError(
      'AccessDenied',
      'There were headers present in the request which were not signed',
      {
        HeadersNotSigned: missing.join(', '),
      },
    );
  }
}

function checkPayloadHash(value: string): void {
  if (VALID_PAYLOAD_HASHES.has(value) || /^[0-9a-fA-F]{64}$/.test(value)) return;
  if (value.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) {
    throw new AwsRequestError('NotImplemented', undefined, { Header: 'x-amz-content-sha256' });
  }
  throw new AwsRequestError(
    'InvalidArgument',
    'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.',
    { ArgumentName: 'x-amz-content-sha256', ArgumentValue: value },
  );
}

/** Constant-time comparison of two hex signatures. */
export function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'latin1');
  const b = Buffer.from(provided, 'latin1');
  return a.length === b.length && timingSafeEqual(a, b);
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
