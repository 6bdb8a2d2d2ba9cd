import type { ServerResponse } from 'node:http';
import { S3Error } from './errors.ts';
import { asArray } from './xml.ts';

/** One CORSRule of a bucket's CORS configuration. */
export interface CorsRule {
  id?: string;
  allowedOrigins: string[];
  allowedMethods: string[];
  allowedHeaders: string[];
  exposeHeaders: string[];
  maxAgeSeconds?: number;
}

const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];

type XmlRule = Record<string, string | string[] | undefined>;

/** Validates a parsed `<CORSConfiguration>` body as S3 does. */
export function parseCorsConfiguration(doc: Record<string, unknown>): CorsRule[] {
  const rules = asArray(doc.CORSRule as XmlRule | XmlRule[] | undefined);
  if (rules.length === 0 || rules.length > 100) {
    throw new S3Error('MalformedXML', 'A CORS configuration needs between 1 and 100 CORSRule elements.');
  }
  return rules.map((r) => {
    const allowedOrigins = asArray(r.AllowedOrigin);
    const allowedMethods = asArray(r.AllowedMethod);
    if (allowedOrigins.length === 0 || allowedMethods.length === 0) {
      throw new S3Error(
        'MalformedXML',
        'Each CORSRule needs at least one AllowedOrigin and one AllowedMethod.',
      );
    }
    for (const m of allowedMethods) {
      if (!METHODS.includes(m)) {
        throw new S3Error(
          'InvalidRequest',
          `Found unsupported HTTP method in CORS config. Unsupported method is ${m}`,
        );
      }
    }
    for (const o of allowedOrigins) {
      if (o.split('*').length > 2) {
        throw new S3Error('InvalidRequest', `AllowedOrigin "${o}" can not have more than one wildcard.`);
      }
    }
    const maxAge = r.MaxAgeSeconds === undefined ? undefined : Number(r.MaxAgeSeconds);
    if (maxAge !== undefined && !Number.isInteger(maxAge)) {
      throw new S3Error('MalformedXML', 'MaxAgeSeconds must be an integer.');
    }
    return {
      ...(typeof r.ID === 'string' ? { id: r.ID } : {}),
      allowedOrigins,
      allowedMethods,
      allowedHeaders: asArray(r.AllowedHeader),
      exposeHeaders: asArray(r.ExposeHeader),
      ...(maxAge !== undefined ? { maxAgeSeconds: maxAge } : {}),
    };
  });
}

/** The configuration as GetBucketCors returns it. */
export function corsXmlBody(rules: readonly CorsRule[]): Record<string, unknown> {
  return {
    CORSRule: rules.map((r) => ({
      ...(r.id ? { ID: r.id } : {}),
      AllowedHeader: r.allowedHeaders,
      AllowedMethod: r.allowedMethods,
      AllowedOrigin: r.allowedOrigins,
      ExposeHeader: r.exposeHeaders,
      ...(r.maxAgeSeconds !== undefined ? { MaxAgeSeconds: r.maxAgeSeconds } : {}),
    })),
  };
}

/** S3 patterns allow a single `*` anywhere; matching is case-insensitive for headers only. */
function wildcardMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const p = ignoreCase ? pattern.toLowerCase() : pattern;
  const v = ignoreCase ? value.toLowerCase() : value;
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const head = p.slice(0, star);
  const tail = p.slice(star + 1);
  return v.length >= head.length + tail.length && v.startsWith(head) && v.endsWith(tail);
}

function findRule(
  rules: readonly CorsRule[],
  origin: string,
  method: string,
  requestHeaders: readonly string[],
): CorsRule | undefined {
  return rules.find(
    (r) =>
      r.allowedOrigins.some((o) => wildcardMatch(o, origin, false)) &&
      r.allowedMethods.includes(method) &&
      requestHeaders.every((h) => r.allowedHeaders.some((a) => wildcardMatch(a, h, true))),
  );
}

function allowHeaders(res: ServerResponse, rule: CorsRule, origin: string): void {
  const any = rule.allowedOrigins.includes('*');
  res.setHeader('access-control-allow-origin', any ? '*' : origin);
  if (!any) res.setHeader('access-control-allow-credentials', 'true');
  res.setHeader('access-control-allow-methods', rule.allowedMethods.join(', '));
  if (rule.exposeHeaders.length > 0)
    res.setHeader('access-control-expose-headers', rule.exposeHeaders.join(', '));
  if (rule.maxAgeSeconds !== undefined) res.setHeader('access-control-max-age', String(rule.maxAgeSeconds));
}

/** Answers a CORS preflight (OPTIONS) the way S3 does, or throws AccessForbidden. */
export function answerPreflight(
  res: ServerResponse,
  rules: readonly CorsRule[] | undefined,
  origin: string | undefined,
  requestMethod: string | undefined,
  requestHeaders: string | undefined,
): void {
  if (!origin || !requestMethod) {
    throw new S3Error('InvalidRequest', 'Insufficient information. Origin request header needed.');
  }
  if (!rules) throw new S3Error('AccessForbidden', 'CORSResponse: CORS is not enabled for this bucket.');
  const headers = (requestHeaders ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const rule = findRule(rules, origin, requestMethod, headers);
  if (!rule) throw new S3Error('AccessForbidden', 'CORSResponse: This CORS request is not allowed.');
  allowHeaders(res, rule, origin);
  if (headers.length > 0) res.setHeader('access-control-allow-headers', headers.join(', '));
  res.setHeader('vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
  res.writeHead(200, { 'content-length': 0 });
  res.end();
}

/** Adds CORS headers to an actual (non-preflight) request's response when a rule allows it. */
export function applyCors(
  res: ServerResponse,
  rules: readonly CorsRule[] | undefined,
  origin: string | undefined,
  method: string,
): void {
  if (!origin || !rules) return;
  const rule = findRule(rules, origin, method, []);
  if (!rule) return;
  allowHeaders(res, rule, origin);
  res.setHeader('vary', 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method');
}
