import { describe, expect, it } from 'vitest';
import { DEFAULT_VARIANTS, fitInside, parseVariants, variantFormats } from './variants.ts';

describe('parseVariants', () => {
  it('defaults to thumb/medium/large webp when unset or blank', () => {
    for (const text of [undefined, '', '   ']) {
      expect(parseVariants(text)).toEqual([
        { name: 'thumb', maxDimension: 320, format: 'webp' },
        { name: 'medium', maxDimension: 1280, format: 'webp' },
        { name: 'large', maxDimension: 2560, format: 'webp' },
      ]);
    }
    expect(parseVariants(undefined)).toBe(DEFAULT_VARIANTS);
  });

  it('parses names, sizes, formats and qualities', () => {
    expect(parseVariants('thumb:320, medium:1280 ,large:2560')).toEqual(DEFAULT_VARIANTS);
    expect(parseVariants('thumb:320:webp,hero:2560:avif,og:1200:jpeg:85,icon_2x:64:png')).toEqual([
      { name: 'thumb', maxDimension: 320, format: 'webp' },
      { name: 'hero', maxDimension: 2560, format: 'avif' },
      { name: 'og', maxDimension: 1200, format: 'jpeg', quality: 85 },
      { name: 'icon_2x', maxDimension: 64, format: 'png' },
    ]);
  });

  it('parses several formats of one variant, the first primary, the quality shared', () => {
    expect(parseVariants('medium:1280:jpeg+webp+avif,thumb:320:webp+avif:60')).toEqual([
      { name: 'medium', maxDimension: 1280, format: 'jpeg', alternates: ['webp', 'avif'] },
      { name: 'thumb', maxDimension: 320, format: 'webp', alternates: ['avif'], quality: 60 },
    ]);
    expect(variantFormats(parseVariants('m:10:jpeg+avif')[0]!)).toEqual(['jpeg', 'avif']);
    expect(variantFormats(parseVariants('m:10')[0]!)).toEqual(['webp']);
  });

  it('reserves names that read as transform options', () => {
    for (const name of ['w_800', 'h_1', 'f_webp', 'q_75', 'fit_cover']) {
      expect(() => parseVariants(`${name}:320`)).toThrow('reserved for transforms');
    }
    expect(parseVariants('icon_2x:64,hero_w:10,width:5')).toHaveLength(3);
  });

  it.each([
    ['thumb:320:webp+webp', 'thumb:320:webp+webp'],
    ['thumb:320:webp+gif', 'thumb:320:webp+gif'],
    ['thumb:320:webp+', 'thumb:320:webp+'],
    ['thumb', 'thumb'],
    ['thumb:', 'thumb:'],
    ['thumb:0', 'thumb:0'],
    ['thumb:-5', 'thumb:-5'],
    ['thumb:3.5', 'thumb:3.5'],
    ['thumb:99999', 'thumb:99999'],
    ['thumb:320:gif', 'thumb:320:gif'],
    ['thumb:320:WEBP', 'thumb:320:WEBP'],
    ['thumb:320:webp:0', 'thumb:320:webp:0'],
    ['thumb:320:webp:101', 'thumb:320:webp:101'],
    ['thumb:320:webp:80:x', 'thumb:320:webp:80:x'],
    ['Thumb:320', 'Thumb:320'],
    ['../x:320', '../x:320'],
    ['a:1,,b:2', ''],
    ['thumb:320,medium:1280,thumb:640', 'thumb:640'],
  ])('rejects %j naming the bad entry', (text, entry) => {
    expect(() => parseVariants(text)).toThrow(`bad entry "${entry}"`);
  });
});

describe('fitInside', () => {
  it('fits inside the box and never enlarges', () => {
    expect(fitInside(2725, 2225, 2560)).toEqual({ width: 2560, height: 2090 });
    expect(fitInside(2725, 2225, 1280)).toEqual({ width: 1280, height: 1045 });
    expect(fitInside(2725, 2225, 320)).toEqual({ width: 320, height: 261 });
    expect(fitInside(3120, 4160, 320)).toEqual({ width: 240, height: 320 });
    expect(fitInside(6, 2, 320)).toEqual({ width: 6, height: 2 });
    expect(fitInside(320, 100, 320)).toEqual({ width: 320, height: 100 });
  });
});
