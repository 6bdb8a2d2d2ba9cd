import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, unknownVariableWarnings } from './config.ts';

/** The problems loadConfig reports for `env` (fails the test when it accepts it). */
function problems(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  it('reports every problem between variables at once, each naming its variables', () => {
    const found = problems({
      DARKROOM_PRESIGN_TTL_SECONDS: '600',
      DARKROOM_PENDING_TTL_SECONDS: '300',
      DARKROOM_WEBHOOK_URL: 'https://hooks.example/darkroom',
      DARKROOM_S3_ACCELERATE: 'true',
      DARKROOM_MULTIPART_THRESHOLD: String(6 * 1024 ** 2),
      DARKROOM_MULTIPART_PART_SIZE: String(8 * 1024 ** 2),
      DARKROOM_S3_ACCESS_KEY_ID: 'a,b',
      DARKROOM_S3_SECRET_ACCESS_KEY: 'only-one-secret',
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'K2JCJMDEHXQW5F',
    });
    expect(found).toEqual([
      'DARKROOM_S3_ACCESS_KEY_ID / DARKROOM_S3_SECRET_ACCESS_KEY: set both, with the same number of comma-separated entries',
      'DARKROOM_S3_ACCELERATE: Transfer Acceleration exists only on Amazon S3; set DARKROOM_S3_ENDPOINT to an amazonaws.com URL (e.g. https://s3.amazonaws.com)',
      'DARKROOM_PENDING_TTL_SECONDS: must be longer than DARKROOM_PRESIGN_TTL_SECONDS',
      'DARKROOM_WEBHOOK_SECRET: required when DARKROOM_WEBHOOK_URL is set (webhooks are signed)',
      'DARKROOM_CLOUDFRONT_KEY_PAIR_ID / DARKROOM_CLOUDFRONT_PRIVATE_KEY: set the key pair id and the private key (or, on a verify-only origin, DARKROOM_CLOUDFRONT_PUBLIC_KEY)',
      'DARKROOM_MULTIPART_THRESHOLD: must not be smaller than DARKROOM_MULTIPART_PART_SIZE',
    ]);
  });

  it('reports every bad variable with what it received, before looking at how they combine', () => {
    const found = problems({
      DARKROOM_PORT: 'ninety',
      DARKROOM_S3_BUCKET: 'Not_A_Bucket',
      DARKROOM_WEBHOOK_URL: 'https://hooks.example/darkroom',
    });
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(/^DARKROOM_PORT: .* \(received "ninety"\)$/);
    expect(found[1]).toBe(
      'DARKROOM_S3_BUCKET: expected an S3 bucket name (3-63 chars: a-z, 0-9, . and -) (received "Not_A_Bucket")',
    );
  });

  it('returns a frozen configuration typed by the schema', () => {
    const config = loadConfig({ DARKROOM_S3_BUCKET: 'photos', DARKROOM_PORT: '8080' });
    expect(config.s3.bucket).toBe('photos');
    expect(config.publicBaseUrl).toBe('http://127.0.0.1:8080');
    expect(Object.isFrozen(config.uploads.allowedTypes)).toBe(true);
    expect(Object.isFrozen(config.s3)).toBe(true);
  });
});

describe('unknownVariableWarnings', () => {
  it('names a misspelt variable and the one it most likely meant', () => {
    expect(unknownVariableWarnings({ DARKROOM_S3_BUKET: 'photos' })).toEqual([
      'DARKROOM_S3_BUKET is not a variable Darkroom reads; it is ignored (did you mean DARKROOM_S3_BUCKET?)',
    ]);
    expect(unknownVariableWarnings({ DARKROOM_MAX_UPLOAD_BYTE: '1', DARKROOM_JWT_SECERT: 'x' })).toEqual([
      'DARKROOM_JWT_SECERT is not a variable Darkroom reads; it is ignored (did you mean DARKROOM_JWT_SECRET?)',
      'DARKROOM_MAX_UPLOAD_BYTE is not a variable Darkroom reads; it is ignored (did you mean DARKROOM_MAX_UPLOAD_BYTES?)',
    ]);
  });

  it('names an unknown variable without a guess when nothing is close', () => {
    expect(unknownVariableWarnings({ DARKROOM_TELEMETRY_ENDPOINT: 'x' })).toEqual([
      'DARKROOM_TELEMETRY_ENDPOINT is not a variable Darkroom reads; it is ignored',
    ]);
  });

  it('is silent about known variables, other families, and those the tools and tests read', () => {
    expect(
      unknownVariableWarnings({
        DARKROOM_S3_BUCKET: 'photos',
        DARKROOM_PORT: '',
        HOME: '/root',
        AWS_REGION: 'eu-west-1',
        DARKROOM_FROM_SOURCE: '1',
        DARKROOM_API_URL: 'http://127.0.0.1:3000',
        DARKROOM_CHROMIUM: '/usr/bin/chromium',
        DARKROOM_TEST_LOG: 'debug',
      }),
    ).toEqual([]);
  });
});
