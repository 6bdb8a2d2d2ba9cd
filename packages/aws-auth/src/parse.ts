import type { IncomingHttpHeaders } from 'node:http';
import { AwsRequestError } from './errors.ts';

/** Where the SigV4 parameters came from; decides which error code S3 uses for malformed input. */
export type AuthSource = 'header' | 'presigned';

/** A parsed `Credential=AKID/date/region/service/aws4_request` value. */
export interface Credential {
  accessKeyId: string;
  shortDate: string;
  region: string;
  service: string;
}

const ISO_BASIC = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

/** Parses `yyyyMMddTHHmmssZ`; undefined for anything else, including impossible dates. */
export function parseAmzDate(value: string): Date | undefined {
  const m = ISO_BASIC.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s));
  // Date.UTC rolls 20260231 over into March; S3 rejects such dates, so must we.
  return date.getUTCMonth() === mo - 1 && date.getUTCDate() === d && h < 24 && mi < 60 && s < 60
    ? date
    : undefined;
}

/** `yyyyMMddTHHmmssZ` for a date, as SigV4 writes it. */
export function formatAmzDate(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

/** The error for a malformed header or query parameter, with the prefix AWS puts on each. */
export function malformed(
  source: AuthSource,
  detail: string,
  fields: Record<string, string> = {},
): AwsRequestError {
  return source === 'header'
    ? new AwsRequestError(
        'AuthorizationHeaderMalformed',
        `The authorization header is malformed; ${detail}`,
        fields,
      )
    : new AwsRequestError(
        'AuthorizationQueryParametersError',
        `Error parsing the X-Amz-Credential parameter; ${detail}`,
        fields,
      );
}

/** Splits and checks a credential scope against this server's region and signing service (s3 by default). */
export function parseCredential(
  value: string,
  source: AuthSource,
  region: string,
  longDate: string,
  expectedService = 's3',
): Credential {
  const parts = value.split('/');
  if (parts.length !== 5 || parts.some((p) => p === '')) {
    throw malformed(
      source,
      'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  const [accessKeyId, shortDate, scopeRegion, service, terminal] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (scopeRegion !== region) {
    throw malformed(source, `the region '${scopeRegion}' is wrong; expecting '${region}'`, {
      Region: region,
    });
  }
  if (service !== expectedService) {
    throw malformed(source, `incorrect service "${service}". This endpoint belongs to "${expectedService}".`);
  }
  if (terminal !== 'aws4_request') {
    throw malformed(source, `incorrect terminal "${terminal}". This endpoint uses "aws4_request".`);
  }
  if (shortDate !== longDate.slice(0, 8)) {
    const dateName = source === 'header' ? 'X-Amz-Date' : 'X-Amz-Date parameter';
    throw malformed(
      source,
      `Invalid credential date "${shortDate}". This date is not the same as ${dateName}: "${longDate.slice(0, 8)}".`,
    );
  }
  return { accessKeyId, shortDate, region: scopeRegion, service };
}

/** The three comma-separated components of an `AWS4-HMAC-SHA256 …` Authorization header. */
export function parseAuthorizationHeader(value: string): {
  credential: string;
  signedHeaders: string;
  signature: string;
} {
  const scheme = /^(\S+)\s*(.*)$/s.exec(value.trim());
  const algorithm = scheme?.[1] ?? '';
  if (algorithm !== 'AWS4-HMAC-SHA256') {
    if (algorithm === 'AWS' || algorithm.startsWith('AWS4-')) {
      throw new AwsRequestError(
        'InvalidRequest',
        'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
      );
    }
    throw new AwsRequestError('InvalidArgument', 'Unsupported Authorization Type', {
      ArgumentName: 'Authorization',
      ArgumentValue: value,
    });
  }
  const components = new Map<string, string>();
  // Clients differ on whether a space follows each comma; S3 accepts both.
  for (const part of (scheme?.[2] ?? '').split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) components.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = components.get('Credential');
  const signedHeaders = components.get('SignedHeaders');
  const signature = components.get('Signature');
  if (!credential || !signedHeaders || !signature) {
    throw malformed(
      'header',
      'the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    );
  }
  return { credential, signedHeaders, signature };
}

/**
 * The value SigV4 signs for one header. Repeated headers are joined with ',' as SigV4 requires, which
 * needs node's headersDistinct: node's own join in `headers` uses ', '.
 */
export function headerValue(
  headers: IncomingHttpHeaders,
  distinct: NodeJS.Dict<string[]> | undefined,
  name: string,
): string | undefined {
  const all = distinct?.[name];
  if (all && all.length > 0) return all.map((v) => v.trim()).join(',');
  const value = headers[name];
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.map((v) => v.trim()).join(',') : value;
}
