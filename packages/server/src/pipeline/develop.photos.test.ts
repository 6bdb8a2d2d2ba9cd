import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_VARIANTS, fitInside } from '@darkroom/contract';
import { testImage } from '@darkroom/testdata';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type DevelopedImage, developImage } from './develop.ts';

let workRoot: string;
beforeAll(async () => {
  workRoot = await mkdtemp(join(tmpdir(), 'darkroom-pipeline-'));
});
afterAll(async () => {
  await rm(workRoot, { recursive: true, force: true });
});

// Each original is developed once per test file; several tests look at the result.
const developed = new Map<string, Promise<DevelopedImage>>();
function develop(file: string): Promise<DevelopedImage> {
  let p = developed.get(file);
  if (!p) {
    p = mkdtemp(join(workRoot, 'job-')).then((dir) =>
      developImage(testImage(file), dir, DEFAULT_VARIANTS, DEFAULT_LIMITS),
    );
    developed.set(file, p);
  }
  return p;
}

/** WebP is RIFF: list its chunk ids (metadata would be EXIF / XMP  / ICCP chunks). */
function riffChunks(buf: Buffer): string[] {
  const ids: string[] = [];
  for (let p = 12; p + 8 <= buf.length; ) {
    ids.push(buf.toString('latin1', p, p + 4));
    const size = buf.readUInt32LE(p + 4);
    p += 8 + size + (size % 2);
  }
  return ids;
}

/** Asserts that nothing but pixels made it into the output. */
async function expectNoMetadata(file: string): Promise<void> {
  const meta = await sharp(file).metadata();
  expect(meta.exif).toBeUndefined();
  expect(meta.xmp).toBeUndefined();
  expect(meta.iptc).toBeUndefined();
  expect(meta.icc).toBeUndefined();
  expect(meta.comments).toBeUndefined();
  expect(meta.orientation).toBeUndefined();
  const bytes = await readFile(file);
  for (const marker of ['Exif', 'EXIF', 'XMP ', 'ICCP', 'xmpmeta', 'ns.adobe.com', 'GPS']) {
    expect(bytes.includes(Buffer.from(marker, 'latin1')), `${file} contains ${marker}`).toBe(false);
  }
  if (meta.format === 'webp') {
    for (const id of riffChunks(bytes))
      expect(['VP8 ', 'VP8L', 'VP8X', 'ALPH', 'ANIM', 'ANMF']).toContain(id);
  }
}

describe('photos', () => {
  it.each([
    ['photos/2569067123_aca715a2ee_o.jpg', 2725, 2225],
    ['photos/canon-eos-5d-mark-iii_22mp.jpg', 5760, 3840],
    ['photos/oppo-r7-plus_13mp_gps.jpg', 3120, 4160],
    ['photos/HMD_Nokia_8.3_5G.jpg', 4608, 1976],
    ['photos/DSCN0010.jpg', 640, 480],
  ])('%s (%ix%i) → variants that fit inside, never enlarged, no metadata', async (file, width, height) => {
    const t0 = performance.now();
    const r = await develop(file);
    console.info(`${file}: ${Math.round(performance.now() - t0)} ms`);
    expect(r).toMatchObject({ format: 'jpeg', width, height, animated: false });
    expect(r.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
    expect(Buffer.from(r.thumbhash, 'base64').length).toBeGreaterThan(4);
    expect(r.variants.map((v) => v.name)).toEqual(['thumb', 'medium', 'large']);
    for (const v of r.variants) {
      const spec = DEFAULT_VARIANTS.find((s) => s.name === v.name)!;
      expect({ width: v.width, height: v.height }).toEqual(fitInside(width, height, spec.maxDimension));
      expect(v).toMatchObject({ format: 'webp', contentType: 'image/webp' });
      const meta = await sharp(v.file).metadata();
      expect({ format: meta.format, width: meta.width, height: meta.height }).toEqual({
        format: 'webp',
        width: v.width,
        height: v.height,
      });
      expect((await stat(v.file)).size).toBe(v.bytes);
      await expectNoMetadata(v.file);
    }
  });

  it('the brief example: 2725x2225 → large 2560x2090, medium 1280x1045, thumb 320x261', async () => {
    const r = await develop('photos/2569067123_aca715a2ee_o.jpg');
    expect(r.variants.map((v) => `${v.name} ${v.width}x${v.height}`)).toEqual([
      'thumb 320x261',
      'medium 1280x1045',
      'large 2560x2090',
    ]);
  });

  it.each([
    'photos/oppo-r7-plus_13mp_gps.jpg',
    'orientation/apple-iphone-5_orientation3_gps.jpg',
    'photos/HMD_Nokia_8.3_5G.jpg',
    'photos/DSCN0010.jpg',
  ])('strips EXIF and GPS from %s', async (file) => {
    const original = await readFile(testImage(file));
    expect(original.includes(Buffer.from('Exif\0\0'))).toBe(true); // the scan below means something
    const inputMeta = await sharp(original).metadata();
    expect(inputMeta.exif).toBeDefined();
    const r = await develop(file);
    for (const v of r.variants) await expectNoMetadata(v.file);
  });
});
