import { readFileSync } from 'node:fs';
import { testImage } from '@darkroom/testdata';
import { describe, expect, it } from 'vitest';
import { ftypBrands, gifFrames, sniffFormat } from './sniff.ts';

const read = (p: string): Buffer => readFileSync(testImage(p));

describe('sniffFormat', () => {
  it.each([
    ['photos/DSCN0010.jpg', 'jpeg'],
    ['hostile/mp3jpg.mp3', 'jpeg'],
    ['hostile/png-disguised-as.jpg', 'png'],
    ['formats/blackbug.png', 'png'],
    ['formats/rotating-squares.gif', 'gif'],
    ['formats/5_webp_a.webp', 'webp'],
    ['formats/uncompressed_tiff.tiff', 'tiff'],
    ['formats/G31D_MULTI.TIF', 'tiff'],
    ['formats/IMG_5195.HEIC', 'heif'],
    ['orientation/iphone_13_pro_max.HEIC', 'heif'],
    ['hostile/crash-20ca2625096a205937b809a7841e7f019f0b2dc6.heic', 'heif'],
    ['formats/pitm.avif', 'avif'],
    ['formats/check.svg', 'svg'],
    ['hostile/maliciousJsAndPhpTest.svg', 'svg'],
    ['hostile/xlinkLaughsTest.svg', 'svg'],
    ['hostile/not-an-image.jpg', undefined],
    ['hostile/empty.jpg', undefined],
  ])('%s → %s', (file, format) => {
    expect(sniffFormat(read(file))).toBe(format);
  });

  it('knows a few formats it refuses, and text', () => {
    expect(sniffFormat(Buffer.from('%PDF-1.7\n'))).toBe('pdf');
    expect(sniffFormat(Buffer.from('\uFEFF  <?xml version="1.0"?>\n<svg></svg>'))).toBe('svg');
    expect(sniffFormat(Buffer.from('<!DOCTYPE html><html></html>'))).toBe('html');
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom\0\0\0\0isommp42')]);
    expect(sniffFormat(mp4)).toBe('video');
    expect(ftypBrands(mp4)).toEqual(['isom', 'isom', 'mp42']);
    expect(sniffFormat(Buffer.from('hello'))).toBeUndefined();
  });
});

describe('gifFrames', () => {
  it("finds the oversized frame in Pillow's decompression bomb", () => {
    const { screen, frames } = gifFrames(read('hostile/decompression_bomb.gif'));
    expect(screen).toEqual({ width: 32, height: 32 });
    expect(frames).toEqual([{ left: 0, top: 65280, width: 65535, height: 1321 }]);
  });

  it('walks every frame of a real animation', () => {
    const { screen, frames } = gifFrames(read('formats/rotating-squares.gif'));
    expect(screen).toEqual({ width: 80, height: 80 });
    expect(frames).toHaveLength(30);
    for (const f of frames) expect(f.left + f.width <= 80 && f.top + f.height <= 80).toBe(true);
  });

  it('stops cleanly on truncated input', () => {
    const buf = read('formats/rotating-squares.gif');
    for (const n of [0, 5, 13, 100, 1000]) expect(() => gifFrames(buf.subarray(0, n))).not.toThrow();
  });
});
