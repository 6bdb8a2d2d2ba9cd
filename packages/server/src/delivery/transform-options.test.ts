import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/errors.ts';
import { checkTransformLimits, outputBound } from './transform-options.ts';
import { signTransformPath, transformSignature } from './transform-signature.ts';

// The grammar itself (and Accept classes) is the edge function's, tested against the case table in packages/edge.
const limits = { maxWidth: 4096, maxHeight: 4096, maxPixels: 16_777_216 };
const opts = (o: { w?: number; h?: number; fit?: 'inside' | 'outside' }) => ({
  w: o.w ?? 0,
  h: o.h ?? 0,
  fit: o.fit ?? ('inside' as const),
  f: 'auto' as const,
  q: 0,
});

describe('transform limits at the origin', () => {
  it('bounds the output from the source size', () => {
    const src = { width: 2000, height: 1000 };
    expect(outputBound(opts({ w: 500 }), src)).toEqual({ width: 500, height: 250 });
    expect(outputBound(opts({ h: 500 }), src)).toEqual({ width: 1000, height: 500 });
    expect(outputBound(opts({ w: 100, h: 100, fit: 'outside' }), src)).toEqual({ width: 200, height: 100 });
    expect(outputBound(opts({}), src)).toEqual(src);
  });

  const small = { ...limits, maxPixels: 1_000_000 };
  it.each([
    [{ w: 4097 }],
    [{ h: 5000 }],
    [{ w: 2000, h: 1000 }],
    [{ w: 1, h: 1500, fit: 'outside' as const }],
  ])('refuses %j with invalid_transform', (o) => {
    const check = () => checkTransformLimits(opts(o), { width: 4000, height: 4000 }, small);
    expect(check).toThrow(ApiError);
    expect(check).toThrow(expect.objectContaining({ code: 'invalid_transform' }));
  });

  it('accepts what fits', () => {
    expect(() => checkTransformLimits(opts({ w: 800 }), { width: 2000, height: 1000 }, limits)).not.toThrow();
  });
});

describe('transform signatures', () => {
  it('signs /img/{id}/{options} with HMAC-SHA256 in base64url, unpadded', () => {
    const url = signTransformPath('s3cret-s3cret-s3cret', 'abc', 'w_1');
    expect(url).toBe(`/img/abc/w_1?sig=${transformSignature('s3cret-s3cret-s3cret', 'abc', 'w_1')}`);
    expect(new URL(url, 'http://x').searchParams.get('sig')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(transformSignature('other-other-other', 'abc', 'w_1')).not.toBe(
      transformSignature('s3cret-s3cret-s3cret', 'abc', 'w_1'),
    );
  });
});
