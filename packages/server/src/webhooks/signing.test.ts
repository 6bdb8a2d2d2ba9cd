import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  signWebhook,
  verifyWebhook,
  WebhookVerificationError,
  webhookHeaders,
  webhookKey,
} from './signing.ts';

// The example in the Standard Webhooks specification (and its reference libraries' tests).
const SPEC = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const specHeaders = {
  'webhook-id': SPEC.id,
  'webhook-timestamp': String(SPEC.timestamp),
  'webhook-signature': SPEC.signature,
};

describe('signWebhook', () => {
  it('matches the Standard Webhooks example', () => {
    expect(signWebhook(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
    expect(webhookHeaders(SPEC.secret, SPEC.id, SPEC.timestamp, SPEC.body)).toEqual(specHeaders);
  });

  it('uses the base64-decoded whsec_ part as the key, and other secrets as UTF-8', () => {
    expect(webhookKey(SPEC.secret)).toEqual(Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64'));
    expect(webhookKey('plain secret ünïcode')).toEqual(Buffer.from('plain secret ünïcode', 'utf8'));
    expect(() => webhookKey('whsec_not*base64')).toThrow(/base64/);
    const plain = signWebhook('a-plain-string-secret', 'evt_1', 1, '{}');
    expect(plain).not.toBe(signWebhook('whsec_YS1wbGFpbi1zdHJpbmctc2VjcmV0', 'evt_1', 2, '{}'));
    // whsec_ of the same bytes signs the same.
    expect(signWebhook('whsec_YS1wbGFpbi1zdHJpbmctc2VjcmV0', 'evt_1', 1, '{}')).toBe(plain);
  });
});

/** Sets the clock `seconds` after the example's timestamp (the library reads Date.now). */
function clockAt(seconds: number): void {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime((SPEC.timestamp + seconds) * 1000);
}

describe('verifyWebhook', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('accepts the spec example and returns the parsed body', () => {
    clockAt(10);
    expect(verifyWebhook(SPEC.secret, specHeaders, SPEC.body)).toEqual({ test: 2432232314 });
    expect(verifyWebhook(SPEC.secret, new Headers(specHeaders), Buffer.from(SPEC.body))).toEqual({
      test: 2432232314,
    });
  });

  it('accepts any of several signatures (key rotation) and mixed-case header names', () => {
    clockAt(10);
    const headers = {
      'Webhook-Id': SPEC.id,
      'Webhook-Timestamp': String(SPEC.timestamp),
      'Webhook-Signature': `v1,Zm9vYmFy v2,abc ${SPEC.signature}`,
    };
    expect(verifyWebhook(SPEC.secret, headers, SPEC.body)).toEqual({ test: 2432232314 });
  });

  it('refuses a changed body, id, timestamp or secret', () => {
    clockAt(10);
    const bad = [
      () => verifyWebhook(SPEC.secret, specHeaders, '{"test": 2432232315}'),
      () => verifyWebhook(SPEC.secret, { ...specHeaders, 'webhook-id': 'msg_other' }, SPEC.body),
      () =>
        verifyWebhook(
          SPEC.secret,
          { ...specHeaders, 'webhook-timestamp': String(SPEC.timestamp + 1) },
          SPEC.body,
        ),
      () => verifyWebhook('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx', specHeaders, SPEC.body),
      () => verifyWebhook(SPEC.secret, { ...specHeaders, 'webhook-signature': 'v1,' }, SPEC.body),
      () => verifyWebhook(SPEC.secret, { ...specHeaders, 'webhook-signature': 'v1a,xyz' }, SPEC.body),
    ];
    for (const check of bad) expect(check).toThrow(WebhookVerificationError);
  });

  it('refuses timestamps more than five minutes away, and missing headers', () => {
    clockAt(301);
    expect(() => verifyWebhook(SPEC.secret, specHeaders, SPEC.body)).toThrow(/too old/);
    clockAt(-301);
    expect(() => verifyWebhook(SPEC.secret, specHeaders, SPEC.body)).toThrow(/too new/);
    clockAt(300);
    expect(verifyWebhook(SPEC.secret, specHeaders, SPEC.body)).toEqual({ test: 2432232314 });
    const { 'webhook-signature': _, ...unsigned } = specHeaders;
    expect(() => verifyWebhook(SPEC.secret, unsigned, SPEC.body)).toThrow(/Missing required headers/);
    // Real clock: the 2021 example is long expired.
    vi.useRealTimers();
    expect(() => verifyWebhook(SPEC.secret, specHeaders, SPEC.body)).toThrow(WebhookVerificationError);
  });
});
