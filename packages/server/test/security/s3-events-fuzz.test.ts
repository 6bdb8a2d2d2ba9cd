import { describe, expect, it } from 'vitest';
import {
  imageIdFromKey,
  type ParsedMessage,
  parseS3EventMessage,
  syntheticObjectCreated,
} from '../../src/worker/s3-events.ts';

// The worker's S3 event parser is fed whatever reaches the queue. A seeded generator throws thousands of
// JSON shapes (random, and mutations of a real event) at it: it must never throw and always answer a
// well-formed ParsedMessage. A failure prints the seed and case number, which reproduce it exactly.

const SEED = 0x5eed_2026;
const CASES = 4000;

/** mulberry32: small, fast, seedable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NASTY_STRINGS = [
  '',
  ' ',
  '%',
  '%E0%A4%A',
  '%zz',
  '%00',
  'uploads/',
  'uploads/../../etc/passwd',
  'uploads%2F00000000-0000-4000-8000-000000000000',
  'uploads/00000000-0000-4000-8000-000000000000',
  'uploads/00000000-0000-4000-8000-000000000000\n',
  '\ud800',
  '\u0000',
  '__proto__',
  'constructor',
  's3:TestEvent',
  'ObjectCreated:Put',
  's3:ObjectCreated:',
  'ObjectRemoved:Delete',
  '2.1',
  '2.',
  '3.0',
  'aws:s3',
  'minio:s3',
  '"etag"',
  'x'.repeat(10_000),
  '+'.repeat(50),
];

function generator(seed: number) {
  const r = rng(seed);
  const int = (n: number) => Math.floor(r() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const str = (): string => {
    if (r() < 0.5) return pick(NASTY_STRINGS);
    return Array.from({ length: int(20) }, () => String.fromCharCode(int(r() < 0.9 ? 128 : 0x10000))).join(
      '',
    );
  };
  const value = (depth: number): unknown => {
    const k = int(depth > 4 ? 6 : 9);
    switch (k) {
      case 0:
        return null;
      case 1:
        return r() < 0.5;
      case 2:
        return pick([0, -1, 1e308, -0, 2 ** 53 + 1, 3.5, Number.MAX_SAFE_INTEGER]);
      case 3:
      case 4:
      case 5:
        return str();
      case 6:
      case 7:
        return Array.from({ length: int(5) }, () => value(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = int(6); i > 0; i--)
          o[r() < 0.3 ? pick(['Records', 'Event', 's3', 'object', 'key', '__proto__']) : str()] = value(
            depth + 1,
          );
        return o;
      }
    }
  };
  const real = () =>
    JSON.parse(
      syntheticObjectCreated({
        region: 'us-east-1',
        bucket: 'darkroom',
        key: 'uploads/00000000-0000-4000-8000-000000000000',
        size: 1234,
        eTag: 'abc',
      }),
    ) as Record<string, unknown>;
  /** Replaces, deletes or retypes one random node of a real event. */
  const mutate = (doc: unknown, times: number): unknown => {
    for (let i = 0; i < times; i++) {
      let node = doc;
      let parent: Record<string, unknown> | unknown[] | undefined;
      let slot: string | number | undefined;
      for (let d = int(6); d > 0 && typeof node === 'object' && node !== null; d--) {
        const keys = Object.keys(node);
        if (keys.length === 0) break;
        parent = node as Record<string, unknown>;
        slot = pick(keys);
        node = (node as Record<string, unknown>)[slot];
      }
      if (parent === undefined || slot === undefined) return value(0);
      if (r() < 0.3) delete (parent as Record<string, unknown>)[slot];
      else (parent as Record<string, unknown>)[slot] = value(2);
    }
    return doc;
  };
  return (): string => {
    const mode = int(10);
    if (mode < 5) return JSON.stringify(mutate(real(), 1 + int(3)));
    if (mode < 8) return JSON.stringify(value(0));
    // Not JSON at all, or JSON cut short.
    const text = JSON.stringify(real());
    return mode === 8 ? text.slice(0, int(text.length)) : str();
  };
}

/** Checks the shape of a ParsedMessage the worker relies on. */
function wellFormed(m: ParsedMessage): boolean {
  if (m.kind === 'test') return Object.keys(m).length === 1;
  if (m.kind === 'unknown') return typeof m.reason === 'string' && m.reason.length > 0;
  if (m.kind !== 'records' || !Array.isArray(m.records)) return false;
  return m.records.every(
    (x) =>
      typeof x.bucket === 'string' &&
      typeof x.key === 'string' &&
      typeof x.size === 'number' &&
      typeof x.eTag === 'string' &&
      typeof x.sequencer === 'string' &&
      x.eventName.startsWith('ObjectCreated:'),
  );
}

describe('parseS3EventMessage under fuzzing', () => {
  it(`never throws and always answers a well-formed ParsedMessage (${CASES} seeded cases)`, () => {
    const next = generator(SEED);
    const kinds: Record<string, number> = { test: 0, records: 0, unknown: 0 };
    for (let i = 0; i < CASES; i++) {
      const body = next();
      let parsed: ParsedMessage;
      try {
        parsed = parseS3EventMessage(body);
      } catch (err) {
        throw new Error(`seed ${SEED} case ${i} threw ${String(err)} on ${body.slice(0, 300)}`);
      }
      if (!wellFormed(parsed))
        throw new Error(`seed ${SEED} case ${i}: ${JSON.stringify(parsed).slice(0, 300)}`);
      kinds[parsed.kind]!++;
      // Whatever the key, only a canonical uploads/{uuid} names an image.
      if (parsed.kind === 'records') {
        for (const rec of parsed.records) {
          const id = imageIdFromKey(rec.key);
          if (id !== undefined) expect(rec.key).toBe(`uploads/${id}`);
        }
      }
    }
    console.info(`s3 event fuzz: ${JSON.stringify(kinds)}`);
    // The generator reaches every branch, or the run proves little.
    expect(kinds.records).toBeGreaterThan(100);
    expect(kinds.unknown).toBeGreaterThan(1000);
  });

  it.each([
    ['deep nesting', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    [
      'a huge Records array of junk',
      JSON.stringify({ Records: Array.from({ length: 100_000 }, (_, i) => i) }),
    ],
    [
      '10 MB of string',
      JSON.stringify({
        Records: [{ eventVersion: '2.1', eventSource: 'aws:s3', eventName: 'x'.repeat(10 * 2 ** 20) }],
      }),
    ],
    [
      'invalid percent-encoding in the key',
      JSON.stringify({
        Records: [
          {
            eventVersion: '2.1',
            eventSource: 'aws:s3',
            eventName: 'ObjectCreated:Put',
            s3: { bucket: { name: 'b' }, object: { key: '%E0%A4%A' } },
          },
        ],
      }),
    ],
    [
      'a lone surrogate escape',
      '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"\\ud800"}}}]}',
    ],
    ['__proto__ keys', '{"__proto__":{"Event":"s3:TestEvent"},"Records":{"__proto__":[]}}'],
  ])('handles %s without throwing', (_what, body) => {
    const parsed = parseS3EventMessage(body);
    expect(wellFormed(parsed)).toBe(true);
    expect(parsed.kind).not.toBe('test');
  });

  it('a traversal key decodes to a key that names no image', () => {
    const body = JSON.stringify({
      Records: [
        {
          eventVersion: '2.1',
          eventSource: 'aws:s3',
          eventName: 'ObjectCreated:Put',
          s3: { bucket: { name: 'darkroom' }, object: { key: 'uploads%2F..%2F..%2Fetc%2Fpasswd', size: 1 } },
        },
      ],
    });
    const parsed = parseS3EventMessage(body);
    expect(parsed).toMatchObject({ kind: 'records', records: [{ key: 'uploads/../../etc/passwd' }] });
    expect(imageIdFromKey('uploads/../../etc/passwd')).toBeUndefined();
  });
});
