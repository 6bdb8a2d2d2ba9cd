import { describe, expect, it } from 'vitest';
import { acceptClass } from './negotiate.ts';
import {
  canonicalTransform,
  InvalidTransform,
  looksLikeTransform,
  outputBound,
  parseTransform,
} from './transform-options.ts';
import { signTransformPath, verifyTransformSignature } from './transform-signature.ts';

const limits = { maxWidth: 4096, maxHeight: 4096, maxPixels: 16_777_216 };

describe('transform options', () => {
  it('parses the grammar and fills defaults', () => {
    expect(parseTransform('w_800,h_600,fit_cover,f_webp,q_75', limits)).toEqual({
      width: 800,
      height: 600,
      fit: 'cover',
      format: 'webp',
      quality: 75,
    });
    expect(parseTransform('w_800', limits)).toEqual({ width: 800, fit: 'inside', format: 'auto' });
  });

  it('has one canonical spelling whatever the order', () => {
    const a = canonicalTransform(parseTransform('q_75,f_webp,h_600,w_800', limits));
    const b = canonicalTransform(parseTransform('w_800,h_600,fit_inside,f_webp,q_75', limits));
    expect(a).toBe('w_800,h_600,fit_inside,f_webp,q_75');
    expect(b).toBe(a);
  });

  it.each(['w_800,w_900', 'w_08', 'w_4097', 'h_1,x_2', 'fit_', 'W_800', 'w_800 ', 'w_5000,h_5000', 'q_1.5'])(
    'refuses %j',
    (text) => {
      expect(() => parseTransform(text, limits)).toThrow(InvalidTransform);
    },
  );

  it('tells options from variant names by their first token', () => {
    expect(looksLikeTransform('w_800')).toBe(true);
    expect(looksLikeTransform('fit_cover,w_1')).toBe(true);
    expect(looksLikeTransform('thumb')).toBe(false);
    expect(looksLikeTransform('icon_2x')).toBe(false);
  });

  it('bounds the output from the source size', () => {
    const src = { width: 2000, height: 1000 };
    expect(outputBound(parseTransform('w_500', limits), src)).toEqual({ width: 500, height: 250 });
    expect(outputBound(parseTransform('h_500', limits), src)).toEqual({ width: 1000, height: 500 });
    expect(outputBound(parseTransform('w_100,h_100,fit_outside', limits), src)).toEqual({
      width: 200,
      height: 100,
    });
    expect(outputBound(parseTransform('f_png', limits), src)).toEqual(src);
  });
});

describe('transform signatures', () => {
  it('signs the path with HMAC-SHA256 in base64url and verifies only that path', () => {
    const url = signTransformPath('s3cret-s3cret-s3cret', 'abc', 'w_1');
    const sig = new URL(url, 'http://x').searchParams.get('sig') ?? '';
    expect(sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifyTransformSignature('s3cret-s3cret-s3cret', 'abc', 'w_1', sig)).toBe(true);
    expect(verifyTransformSignature('s3cret-s3cret-s3cret', 'abc', 'w_2', sig)).toBe(false);
    expect(verifyTransformSignature('other-other-other', 'abc', 'w_1', sig)).toBe(false);
    expect(verifyTransformSignature('s3cret-s3cret-s3cret', 'abc', 'w_1', undefined)).toBe(false);
  });
});

describe('Accept classes', () => {
  it.each([
    [undefined, 'original'],
    ['*/*', 'original'],
    ['image/*', 'original'],
    ['image/webp,*/*;q=0.8', 'webp'],
    ['image/avif,image/webp,*/*;q=0.8', 'avif'],
    ['IMAGE/AVIF', 'avif'],
    ['image/avif;q=0,image/webp', 'webp'],
    ['image/avif; q=0.0, image/webp;q=0', 'original'],
  ])('%j → %s', (accept, expected) => {
    expect(acceptClass(accept)).toBe(expected);
  });
});
