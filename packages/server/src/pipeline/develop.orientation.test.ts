import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseVariants } from '@darkroom/contract';
import { TESTDATA, testImage } from '@darkroom/testdata';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type DevelopedImage, developImage } from './develop.ts';

const VARIANTS = parseVariants('thumb:320,large:2560');

let workRoot: string;
beforeAll(async () => {
  workRoot = await mkdtemp(join(tmpdir(), 'darkroom-orient-'));
});
afterAll(async () => {
  await rm(workRoot, { recursive: true, force: true });
});

async function develop(file: string): Promise<DevelopedImage> {
  return developImage(testImage(file), await mkdtemp(join(workRoot, 'job-')), VARIANTS, DEFAULT_LIMITS);
}

/** Greyscale 32x24 (or 24x32) fingerprint of an image, as raw bytes. */
async function fingerprint(input: string | Sharp, w: number, h: number): Promise<Buffer> {
  const img = typeof input === 'string' ? sharp(input) : input;
  return img.resize(w, h, { fit: 'fill' }).greyscale().raw().toBuffer();
}

function meanAbsDiff(a: Buffer, b: Buffer): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

// Same pictures, re-encoded with different orientations: after orienting, differences are JPEG noise.
const SAME = 6;

describe.each([
  ['Landscape', 600, 450, 32, 24],
  ['Portrait', 450, 600, 24, 32],
])('orientation/%s_1..8.jpg', (kind, width, height, fw, fh) => {
  let reference: Buffer;
  beforeAll(async () => {
    const r = await develop(`orientation/${kind}_1.jpg`);
    reference = await fingerprint(r.variants[1]!.file, fw, fh);
  });

  it('the fingerprint tells orientations apart (so the test below means something)', async () => {
    const stored = `${TESTDATA}/orientation/${kind}_1.jpg`;
    const flipped = await fingerprint(sharp(stored).flip(), fw, fh);
    const flopped = await fingerprint(sharp(stored).flop(), fw, fh);
    expect(meanAbsDiff(reference, flipped)).toBeGreaterThan(4 * SAME);
    expect(meanAbsDiff(reference, flopped)).toBeGreaterThan(4 * SAME);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])(`${kind}_%i comes out upright, ${width}x${height}`, async (n) => {
    const r = await develop(`orientation/${kind}_${n}.jpg`);
    expect({ width: r.width, height: r.height }).toEqual({ width, height });
    const [thumb, large] = r.variants;
    expect({ w: thumb!.width, h: thumb!.height }).toEqual(
      width > height ? { w: 320, h: 240 } : { w: 240, h: 320 },
    );
    expect({ w: large!.width, h: large!.height }).toEqual({ w: width, h: height }); // never enlarged
    const diff = meanAbsDiff(reference, await fingerprint(large!.file, fw, fh));
    expect(diff).toBeLessThan(SAME);
  });
});

describe('orientation edge cases', () => {
  it.each([
    ['orientation/Landscape_0.jpg', 1800, 1200],
    ['orientation/Portrait_0.jpg', 1200, 1800],
  ])('%s: Orientation=0 is treated as 1 (%ix%i, not rotated)', async (file, width, height) => {
    const r = await develop(file);
    expect({ width: r.width, height: r.height }).toEqual({ width, height });
    expect({ width: r.variants[1]!.width, height: r.variants[1]!.height }).toEqual({ width, height });
    const asStored = await fingerprint(testImage(file), width / 50, height / 50);
    expect(
      meanAbsDiff(asStored, await fingerprint(r.variants[1]!.file, width / 50, height / 50)),
    ).toBeLessThan(SAME);
  });

  it('a real camera Orientation=6 (canon_hdr_NO.jpg) becomes portrait 1536x2048', async () => {
    const r = await develop('orientation/canon_hdr_NO.jpg');
    expect({ width: r.width, height: r.height }).toEqual({ width: 1536, height: 2048 });
    expect(r.variants.map((v) => [v.width, v.height])).toEqual([
      [240, 320],
      [1536, 2048],
    ]);
    const rotated = await fingerprint(sharp(`${TESTDATA}/orientation/canon_hdr_NO.jpg`).rotate(90), 24, 32);
    expect(meanAbsDiff(rotated, await fingerprint(r.variants[1]!.file, 24, 32))).toBeLessThan(SAME);
  });

  it('an upside-down iPhone photo (Orientation=3) is turned 180°', async () => {
    const file = `${TESTDATA}/orientation/apple-iphone-5_orientation3_gps.jpg`;
    const r = await develop('orientation/apple-iphone-5_orientation3_gps.jpg');
    expect({ width: r.width, height: r.height }).toEqual({ width: 3264, height: 2448 });
    const out = await fingerprint(r.variants[0]!.file, 32, 24);
    const turned = await fingerprint(sharp(file, { autoOrient: false }).rotate(180), 32, 24);
    const asStored = await fingerprint(sharp(file, { autoOrient: false }), 32, 24);
    expect(meanAbsDiff(out, turned)).toBeLessThan(SAME);
    expect(meanAbsDiff(out, asStored)).toBeGreaterThan(4 * SAME);
  });
});
