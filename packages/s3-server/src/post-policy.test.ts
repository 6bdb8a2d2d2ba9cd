// Table tests of the pure POST policy code: authentication, policy decoding and evaluation, no HTTP.
// The form reader's own tests (streaming, limits, malformed bodies) are in post-form.test.ts.
import { createHmac } from 'node:crypto';
import type { AccessKey } from '@darkroom/aws-auth';
import { describe, expect, it } from 'vitest';
import { S3Error } from './errors.ts';
import { authorizePostForm, evaluatePolicy, type PostPolicy, parsePolicy } from './post-policy.ts';

const KEY: AccessKey = { accessKeyId: 'AKIDTABLE', secretAccessKey: 'table-secret' };
const REGION = 'us-east-1';
const BUCKET = 'photos';
const NOW = new Date('2026-03-01T12:00:00Z');
const OPTS = { keys: [KEY], region: REGION, now: NOW, maxObjectBytes: 1000 };

/** SigV4's key derivation written out independently of the code under test. */
function sign(secret: string, date: string, region: string, service: string, text: string): string {
  const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest();
  let key = hmac(`AWS4${secret}`, date);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  return hmac(key, text).toString('hex');
}

interface FormOptions {
  amzDate?: string;
  credentialDate?: string;
  region?: string;
  service?: string;
  algorithm?: string;
  secret?: string;
  accessKeyId?: string;
  expiration?: string;
  conditions?: unknown[];
  fields?: Record<string, string>;
}

/** A signed form (names lowercased, as the form reader hands them over) for key `a.txt`. */
function form(o: FormOptions = {}): Map<string, string> {
  const amzDate = o.amzDate ?? '20260301T115500Z';
  const date = o.credentialDate ?? amzDate.slice(0, 8);
  const region = o.region ?? REGION;
  const service = o.service ?? 's3';
  const credential = `${o.accessKeyId ?? KEY.accessKeyId}/${date}/${region}/${service}/aws4_request`;
  const doc = {
    expiration: o.expiration ?? '2026-03-01T13:00:00Z',
    conditions: o.conditions ?? [
      { bucket: BUCKET },
      { key: 'a.txt' },
      { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
      { 'x-amz-credential': credential },
      { 'x-amz-date': amzDate },
      ...Object.keys(o.fields ?? {}).map((name) => ['starts-with', `$${name}`, '']),
    ],
  };
  const policy = Buffer.from(JSON.stringify(doc)).toString('base64');
  return new Map(
    Object.entries({
      key: 'a.txt',
      policy,
      'x-amz-algorithm': o.algorithm ?? 'AWS4-HMAC-SHA256',
      'x-amz-credential': credential,
      'x-amz-date': amzDate,
      'x-amz-signature': sign(o.secret ?? KEY.secretAccessKey, date, region, service, policy),
      ...o.fields,
    }),
  );
}

async function refusal(f: Map<string, string>, filename = 'a.txt') {
  try {
    await authorizePostForm(f, filename, BUCKET, OPTS);
  } catch (err) {
    expect(err).toBeInstanceOf(S3Error);
    const e = err as S3Error;
    return { code: e.code, status: e.status, message: e.message, fields: e.fields };
  }
  throw new Error('the form was accepted');
}

describe('authorizePostForm: authentication', () => {
  it('accepts a well-signed form and reports its key pair and length range', async () => {
    const ok = await authorizePostForm(form(), 'a.txt', BUCKET, OPTS);
    expect(ok).toMatchObject({ key: 'a.txt', accessKeyId: KEY.accessKeyId, minBytes: 0, maxBytes: 1000 });
  });

  it.each<[string, FormOptions, { code: string; message?: RegExp; fields?: Record<string, unknown> }]>([
    // Date.UTC rolls 20260231 into March 3rd; the form reader's regex check used to let it through.
    [
      'an impossible X-Amz-Date (20260231), correctly signed',
      { amzDate: '20260231T000000Z' },
      { code: 'AuthorizationQueryParametersError', message: /X-Amz-Date must be in the ISO8601 Long Format/ },
    ],
    [
      'an X-Amz-Date at hour 24',
      { amzDate: '20260301T240000Z' },
      { code: 'AuthorizationQueryParametersError', message: /ISO8601/ },
    ],
    [
      'a short X-Amz-Date',
      { amzDate: '20260301' },
      { code: 'AuthorizationQueryParametersError', message: /ISO8601/ },
    ],
    [
      'a credential date other than X-Amz-Date',
      { credentialDate: '20260228' },
      { code: 'AuthorizationQueryParametersError', message: /Invalid credential date "20260228"/ },
    ],
    [
      'a credential scoped to another region',
      { region: 'eu-west-1' },
      {
        code: 'AuthorizationQueryParametersError',
        message: /the region 'eu-west-1' is wrong; expecting 'us-east-1'/,
        fields: { Region: REGION },
      },
    ],
    [
      'a credential for another service',
      { service: 'sqs' },
      { code: 'AuthorizationQueryParametersError', message: /incorrect service "sqs"/ },
    ],
    [
      'another algorithm',
      { algorithm: 'AWS4-ECDSA-P256-SHA256' },
      { code: 'InvalidArgument', fields: { ArgumentName: 'x-amz-algorithm' } },
    ],
    [
      'an unknown access key id',
      { accessKeyId: 'AKIDNOBODY' },
      { code: 'InvalidAccessKeyId', fields: { AWSAccessKeyId: 'AKIDNOBODY' } },
    ],
    [
      'the wrong secret',
      { secret: 'not-the-secret' },
      { code: 'SignatureDoesNotMatch', fields: { AWSAccessKeyId: KEY.accessKeyId } },
    ],
  ])('refuses %s', async (_, options, expected) => {
    const got = await refusal(form(options));
    expect(got.code).toBe(expected.code);
    if (expected.message) expect(got.message).toMatch(expected.message);
    if (expected.fields) expect(got.fields).toMatchObject(expected.fields);
  });

  it('refuses a signature over another policy', async () => {
    const f = form();
    f.set('policy', Buffer.from('{"expiration":"2026-03-01T13:00:00Z","conditions":[]}').toString('base64'));
    expect((await refusal(f)).code).toBe('SignatureDoesNotMatch');
  });

  it.each([
    [
      'no signature fields at all',
      ['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature'],
      'AccessDenied',
    ],
    ['a missing X-Amz-Signature', ['x-amz-signature'], 'InvalidArgument'],
    ['a missing Policy', ['policy'], 'InvalidArgument'],
    ['a missing key', ['key'], 'InvalidArgument'],
  ])('refuses %s', async (_, removed, code) => {
    const f = form();
    for (const name of removed) f.delete(name);
    expect((await refusal(f)).code).toBe(code);
  });

  it('refuses SigV2 form fields as an unsupported mechanism', async () => {
    const f = new Map([
      ['key', 'a.txt'],
      ['awsaccesskeyid', KEY.accessKeyId],
      ['signature', 'x'],
      ['policy', 'e30='],
    ]);
    expect(await refusal(f)).toMatchObject({ code: 'InvalidRequest', message: /AWS4-HMAC-SHA256/ });
  });
});

describe('authorizePostForm: what the form asks for', () => {
  it('substitutes the file name placeholder, and refuses an empty or over-long key', async () => {
    const conditions = [
      ['starts-with', '$key', 'up/'],
      ['starts-with', '$x-amz-credential', ''],
      ['starts-with', '$x-amz-algorithm', ''],
      ['starts-with', '$x-amz-date', ''],
    ];
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal key placeholder.
    const placeholder = 'up/${filename}';
    const f = form({ conditions });
    f.set('key', placeholder);
    expect((await authorizePostForm(f, 'cat.jpg', BUCKET, OPTS)).key).toBe('up/cat.jpg');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's literal key placeholder.
    f.set('key', '${filename}');
    expect((await refusal(f, '')).code).toBe('InvalidArgument');
    f.set('key', `up/${'k'.repeat(1100)}`);
    expect((await refusal(f)).code).toBe('KeyTooLongError');
  });

  it.each<[string, Record<string, string>, { code: string } | Record<string, unknown>]>([
    ['x-amz-meta-* fields as metadata', { 'x-amz-meta-Colour': 'red' }, { metadata: { colour: 'red' } }],
    ['metadata over 2 KB', { 'x-amz-meta-big': 'x'.repeat(2100) }, { code: 'MetadataTooLarge' }],
    ['success_action_status 201', { success_action_status: '201' }, { successActionStatus: 201 }],
    [
      'an unrecognised success_action_status as unset',
      { success_action_status: '302' },
      { successActionStatus: undefined },
    ],
    [
      'a redirect S3 could not interpret as absent',
      { success_action_redirect: 'not a url' },
      { successActionRedirect: undefined },
    ],
    [
      'an x-amz-checksum-sha256 field',
      { 'x-amz-checksum-sha256': Buffer.alloc(32).toString('base64') },
      { checksum: { algorithm: 'SHA256', value: Buffer.alloc(32).toString('base64') } },
    ],
    ['a checksum of the wrong length', { 'x-amz-checksum-crc32': 'AAAAAAAA' }, { code: 'InvalidRequest' }],
    [
      'two checksums',
      { 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-crc32c': 'AAAAAA==' },
      { code: 'InvalidRequest' },
    ],
    ['a CRC64NVME checksum', { 'x-amz-checksum-crc64nvme': 'AAAAAAAAAAA=' }, { code: 'NotImplemented' }],
    ['a Content-MD5 that is not 16 bytes', { 'content-md5': 'AAAA' }, { code: 'InvalidDigest' }],
  ])('reads %s', async (_, fields, expected) => {
    const lower = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k.toLowerCase(), v]));
    const f = form({ fields: lower });
    if ('code' in expected) expect((await refusal(f)).code).toBe(expected.code);
    else expect(await authorizePostForm(f, 'a.txt', BUCKET, OPTS)).toMatchObject(expected);
  });
});

describe('parsePolicy', () => {
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  it.each([
    ['not base64', '***', /not valid base64/],
    ['not JSON', b64('{not json'), /Invalid JSON/],
    ['not an object', b64('[]'), /must be a JSON object/],
    ['no expiration', b64('{"conditions":[]}'), /missing expiration/],
    [
      'an expiration without a time',
      b64('{"expiration":"2026-03-01","conditions":[]}'),
      /Invalid 'expiration'/,
    ],
    // Date.parse rolls 2026-02-31 over into March.
    [
      'an impossible expiration date',
      b64('{"expiration":"2026-02-31T00:00:00Z","conditions":[]}'),
      /Invalid 'expiration'/,
    ],
    ['no conditions', b64('{"expiration":"2026-03-01T00:00:00Z"}'), /missing conditions/],
    [
      'conditions that are not an array',
      b64('{"expiration":"2026-03-01T00:00:00Z","conditions":{}}'),
      /JSON array/,
    ],
    [
      'a simple condition with two properties',
      b64('{"expiration":"2026-03-01T00:00:00Z","conditions":[{"a":"1","b":"2"}]}'),
      /exactly one property/,
    ],
    [
      'a simple condition with a number',
      b64('{"expiration":"2026-03-01T00:00:00Z","conditions":[{"a":1}]}'),
      /must be a string/,
    ],
    [
      'an unknown operation',
      b64('{"expiration":"2026-03-01T00:00:00Z","conditions":[["in","$key","a"]]}'),
      /unknown operation "in"/,
    ],
    [
      'a field without $',
      b64('{"expiration":"2026-03-01T00:00:00Z","conditions":[["eq","key","a"]]}'),
      /must start with "\$"/,
    ],
    [
      'a negative length range',
      b64('{"expiration":"2026-03-01T00:00:00Z","conditions":[["content-length-range",-1,5]]}'),
      /content-length-range/,
    ],
  ])('refuses %s as InvalidPolicyDocument', (_, encoded, message) => {
    let caught: unknown;
    try {
      parsePolicy(encoded);
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'InvalidPolicyDocument', message: expect.stringMatching(message) });
  });

  it('decodes simple and array conditions, field names lowercased, ranges from numbers or digit strings', () => {
    const policy = parsePolicy(
      b64(
        JSON.stringify({
          expiration: '2026-03-01T00:00:00.000Z',
          conditions: [
            { Bucket: 'b' },
            ['starts-with', '$Content-Type', 'image/'],
            ['content-length-range', '1', 10],
          ],
        }),
      ),
    );
    expect(policy.conditions).toEqual([
      { op: 'eq', field: 'bucket', value: 'b', text: '["eq", "$Bucket", "b"]' },
      {
        op: 'starts-with',
        field: 'content-type',
        value: 'image/',
        text: '["starts-with", "$Content-Type", "image/"]',
      },
      { op: 'content-length-range', min: 1, max: 10 },
    ]);
  });
});

describe('evaluatePolicy', () => {
  const at = { bucket: BUCKET, key: 'up/a.jpg', now: NOW, maxObjectBytes: 1000 };
  const policy = (...conditions: PostPolicy['conditions']): PostPolicy => ({
    expiration: '2026-03-01T13:00:00Z',
    conditions,
  });
  const eq = (field: string, value: string) => ({ op: 'eq' as const, field, value, text: `eq ${field}` });
  const prefix = (field: string, value: string) => ({
    op: 'starts-with' as const,
    field,
    value,
    text: `sw ${field}`,
  });
  const range = (min: number, max: number) => ({ op: 'content-length-range' as const, min, max });

  it.each<[string, PostPolicy, Record<string, string>, { minBytes: number; maxBytes: number } | RegExp]>([
    ['no conditions and no fields', policy(), {}, { minBytes: 0, maxBytes: 1000 }],
    [
      'eq on the request bucket, whatever the form says',
      policy(eq('bucket', BUCKET)),
      { bucket: 'other' },
      { minBytes: 0, maxBytes: 1000 },
    ],
    ['eq on another bucket', policy(eq('bucket', 'other')), {}, /Policy Condition failed: eq bucket/],
    ['starts-with on the substituted key', policy(prefix('key', 'up/')), {}, { minBytes: 0, maxBytes: 1000 }],
    ['starts-with that fails', policy(prefix('key', 'down/')), {}, /Condition failed: sw key/],
    [
      'starts-with "" as "anything"',
      policy(prefix('x-amz-meta-a', '')),
      { 'x-amz-meta-a': 'z' },
      { minBytes: 0, maxBytes: 1000 },
    ],
    [
      'every listed Content-Type must match',
      policy(prefix('content-type', 'image/')),
      { 'content-type': 'image/png, text/plain' },
      /Condition failed/,
    ],
    [
      'several listed Content-Types that all match',
      policy(prefix('content-type', 'image/')),
      { 'content-type': 'image/png, image/jpeg' },
      { minBytes: 0, maxBytes: 1000 },
    ],
    ['a range within the server limit', policy(range(10, 500)), {}, { minBytes: 10, maxBytes: 500 }],
    [
      'a range past the server limit, capped by it',
      policy(range(0, 5000)),
      {},
      { minBytes: 0, maxBytes: 1000 },
    ],
    [
      'a field the policy does not cover',
      policy(),
      { 'x-amz-meta-sneaky': '1' },
      /Extra input fields: x-amz-meta-sneaky/,
    ],
    [
      'x-ignore-* and the signature fields, never covered',
      policy(),
      { 'x-ignore-a': '1', policy: 'p', 'x-amz-signature': 's', file: '' },
      { minBytes: 0, maxBytes: 1000 },
    ],
  ])('%s', (_, p, fields, expected) => {
    const run = () => evaluatePolicy(p, new Map(Object.entries(fields)), at);
    if (expected instanceof RegExp) {
      expect(run).toThrow(expected);
    } else {
      expect(run()).toEqual(expected);
    }
  });

  it('refuses an expired policy, and accepts it up to the second it expires', () => {
    const p = policy();
    expect(evaluatePolicy(p, new Map(), { ...at, now: new Date('2026-03-01T13:00:00Z') })).toEqual({
      minBytes: 0,
      maxBytes: 1000,
    });
    expect(() => evaluatePolicy(p, new Map(), { ...at, now: new Date('2026-03-01T13:00:01Z') })).toThrow(
      'Invalid according to Policy: Policy expired.',
    );
  });
});
