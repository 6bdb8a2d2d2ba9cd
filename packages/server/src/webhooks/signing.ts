import { Webhook, WebhookVerificationError } from 'standardwebhooks';

/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com), made and checked by the spec's own
 * `standardwebhooks` library: every request carries `webhook-id`, `webhook-timestamp` (unix seconds) and
 * `webhook-signature`, `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, possibly several
 * space-separated (key rotation).
 *
 * Secrets: `whsec_<base64>` (the form the spec and its libraries use) means the key is the
 * base64-decoded part; any other string is used as its UTF-8 bytes (the library would base64-decode it,
 * so Darkroom hands it the key itself). DARKROOM_WEBHOOK_SECRET and the application must use the same
 * string; an application on the library passes `webhookKey(secret)` with `{ format: 'raw' }`, or the
 * `whsec_` string as it is.
 */

export { WebhookVerificationError };

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

/** The library's signer and verifier for one key. */
export type WebhookSigner = Webhook;

/** A Standard Webhooks signer and verifier for a secret (a string as above, or the key itself). */
export function webhookSigner(secret: string | Buffer): WebhookSigner {
  return new Webhook(typeof secret === 'string' ? webhookKey(secret) : secret, { format: 'raw' });
}

/** The `webhook-signature` value for one message: `v1,<base64>`. */
export function signWebhook(
  secret: string | Buffer | Webhook,
  id: string,
  timestampSeconds: number,
  body: string | Uint8Array,
): string {
  const signer = secret instanceof Webhook ? secret : webhookSigner(secret);
  return signer.sign(id, new Date(timestampSeconds * 1000), body);
}

/** The headers Darkroom sends with a webhook (besides content-type). */
export function webhookHeaders(
  secret: string | Buffer | Webhook,
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

/** Headers as Node's `req.headers`, a fetch `Headers`, or a plain object (names matched case-insensitively). */
export type HeaderSource = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

/** The three webhook headers as the library takes them: a plain object of strings. */
function plainHeaders(headers: HeaderSource): Record<string, string> {
  const out: Record<string, string> = {};
  const entries =
    typeof (headers as Headers).get === 'function'
      ? [...(headers as Headers).entries()]
      : Object.entries(headers as Record<string, string | readonly string[] | undefined>);
  for (const [k, v] of entries) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(' ') : (v as string);
  }
  return out;
}

/**
 * What an application runs on each webhook (the library's `verify`): checks the signature in constant
 * time against every `v1,` signature in the header, and that the timestamp is within five minutes of
 * now, then returns the parsed JSON body. Throws WebhookVerificationError otherwise. Pass the body
 * exactly as received (the raw bytes or string, not re-serialised JSON).
 */
export function verifyWebhook<T = unknown>(
  secret: string,
  headers: HeaderSource,
  body: string | Uint8Array,
): T {
  return webhookSigner(secret).verify(body, plainHeaders(headers)) as T;
}
