import fs from 'node:fs';
import path from 'node:path';
import { TESTDATA } from '@darkroom/testdata';
import { describe, expect, it } from 'vitest';
import { isAnimated, isAnimatedGif, isAnimatedWebp, isApng } from '../src/animation.ts';

const read = (p: string) => new Uint8Array(fs.readFileSync(path.join(TESTDATA, p)));

describe('animation detection from container headers', () => {
  it('finds the real animated GIF and WebP', () => {
    expect(isAnimatedGif(read('formats/rotating-squares.gif'))).toBe(true);
    expect(isAnimatedWebp(read('formats/rotating-squares.webp'))).toBe(true);
    expect(isAnimated(read('formats/rotating-squares.gif'))).toBe(true);
    expect(isAnimated(read('formats/rotating-squares.webp'))).toBe(true);
  });

  it('does not flag still images', () => {
    for (const f of [
      'formats/5_webp_a.webp',
      'formats/blackbug.png',
      'photos/DSCN0010.jpg',
      'formats/pitm.avif',
      'orientation/iphone_13_pro_max.HEIC',
    ]) {
      expect(isAnimated(read(f)), f).toBe(false);
    }
  });

  it('does not flag a single-frame GIF, and survives truncated or hostile files', () => {
    // The first 1000 bytes of the animated GIF hold only its first frame.
    const gif = read('formats/rotating-squares.gif');
    expect(isAnimatedGif(gif.subarray(0, 900))).toBe(false);
    for (const f of fs.readdirSync(path.join(TESTDATA, 'hostile'))) {
      const bytes = read(`hostile/${f}`);
      for (const cut of [bytes.length, 7, 13, 30])
        expect(() => isAnimated(bytes.subarray(0, cut)), f).not.toThrow();
    }
  });

  it('recognises an APNG by its acTL chunk', () => {
    const png = read('formats/blackbug.png');
    expect(isApng(png)).toBe(false);
    // Insert an acTL chunk right after IHDR (8-byte signature + 25-byte IHDR chunk).
    const acTL = new Uint8Array([0, 0, 0, 8, 0x61, 0x63, 0x54, 0x4c, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    const apng = new Uint8Array(png.length + acTL.length);
    apng.set(png.subarray(0, 33));
    apng.set(acTL, 33);
    apng.set(png.subarray(33), 33 + acTL.length);
    expect(isApng(apng)).toBe(true);
  });
});
