import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): every request carries
 * `webhook-id`, `webhook-timestamp` (unix seconds) and `webhook-signature`, which is
 * `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, possibly several space-separated (key rotation).
 *
 * Secrets: `whsec_<base64>` (the form the spec and its libraries use) means the key is the
 * base64-decoded part; any other string is used as its UTF-8 bytes. DARKROOM_WEBHOOK_SECRET and the
 * application must use the same string.
 */

/** How far a webhook's timestamp may be from the receiver's clock before it is refused (replay window). */
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

/** The HMAC key a secret stands for: the decoded part of `whsec_<base64>`, else the string's UTF-8 bytes. */
export function webhookKey(secret: string): Buffer {
  if (secret.startsWith('whsec_')) {
    const encoded = secret.slice('whsec_'.length);
    const key = Buffer.from(encoded, 'base64');
    if (key.length === 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) {
      throw new Error('webhook secret: expected whsec_ followed by base64');
    }
    return key;
  }
  return Buffer.from(secret, 'utf8');
}

/** The `webhook-signature` value for one message: `v1,<base64>`. */
export function signWebhook(
  secret: string | Buffer,
  id: string,
  timestampSeconds: number,
  body: string | Uint8Array,
): string {
  const key = typeof secret === 'string' ? webhookKey(secret) : secret;
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest('base64');
  return `v1,${mac}`;
}

/** The headers Darkroom sends with a webhook (besides content-type). */
export function webhookHeaders(
  secret: string | Buffer,
  id: string,
  timestampSeconds: number,
  body: string,
): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': signWebhook(secret, id, timestampSeconds, body),
  };
}

/** Why verifyWebhook refused a request. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

/** Headers as Node's `req.headers`, a fetch `Headers`, or a plain object (names matched case-insensitively). */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

function header(headers: HeaderSource, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers as Record<string, string | readonly string[] | undefined>)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(' ') : (v as string | undefined);
  }
  return undefined;
}

/**
 * What an application runs on each webhook: checks the signature (in constant time, against every
 * `v1,` signature in the header) and that the timestamp is within `toleranceSeconds` of now, then
 * returns the parsed JSON body. Throws WebhookVerificationError otherwise. Pass the body exactly as
 * received (the raw bytes or string, not re-serialised JSON).
 */
export function verifyWebhook<T = unknown>(
  secret: string,
  headers: HeaderSource,
  body: string | Uint8Array,
  opts: { nowSeconds?: number; toleranceSeconds?: number } = {},
): T {
  const id = header(headers, 'webhook-id');
  const timestamp = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestamp || !signatures) throw new WebhookVerificationError('missing webhook headers');
  if (!/^\d{1,15}$/.test(timestamp)) throw new WebhookVerificationError('invalid webhook-timestamp');
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = opts.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - Number(timestamp)) > tolerance) {
    throw new WebhookVerificationError('webhook-timestamp outside the tolerance window');
  }
  const expected = Buffer.from(
    signWebhook(secret, id, Number(timestamp), body).slice('v1,'.length),
    'base64',
  );
  const match = signatures.split(' ').some((candidate) => {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!match) throw new WebhookVerificationError('no matching signature');
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new WebhookVerificationError('body is not JSON');
  }
}
