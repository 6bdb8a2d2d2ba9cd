import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { DEFAULT_VARIANTS, parseVariants, type VariantSpec } from '@darkroom/contract';
import { testImage } from '@darkroom/testdata';
import sharp from 'sharp';
import { thumbHashToAverageRGBA } from 'thumbhash';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type DevelopedImage, developImage, type encodeAs } from './develop.ts';

// developImage decodes a still image once and resizes the smaller outputs from those pixels; the
// per-variant recipe (a fresh pipeline from the file for each variant and for the placeholder, kept for
// animations, and the reference here) must give the same output: the same names, formats, sizes and
// order, the same placeholder to the eye, and each variant's pixels within SSIM 0.99.
//
// The SSIM is taken through a lossless encoder (developImage's `encode` option, PNG): what the recipe
// changes is the pixels handed to the encoder. Through WebP q80 itself, two encodes of pixels that differ
// by a fraction of a level differ more than that (measured: medium 1280 px pixels at SSIM 0.9985 encode
// to WebPs at 0.979), because the lossy encoder's own loss is larger (each WebP is at SSIM 0.956-0.983
// of the pixels it was given). That is checked too, with the real encoders, against a bound below it.
const lossless: typeof encodeAs = (img) => img.png({ compressionLevel: 0 });
let workRoot: string;
beforeAll(async () => {
  workRoot = await mkdtemp(join(tmpdir(), 'darkroom-once-'));
});
afterAll(async () => {
  await rm(workRoot, { recursive: true, force: true });
});

async function develop(
  file: string,
  variants: readonly VariantSpec[],
  recipe: 'auto' | 'per-variant',
  encode?: typeof encodeAs,
) {
  const dir = await mkdtemp(join(workRoot, 'job-'));
  return developImage(isAbsolute(file) ? file : testImage(file), dir, variants, DEFAULT_LIMITS, {
    recipe,
    ...(encode ? { encode } : {}),
  });
}

/** Decoded RGBA pixels of an output file. */
async function rgba(file: string) {
  const { data, info } = await sharp(file).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

const GAUSS = (() => {
  const k = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 ** 2)));
  const sum = k.reduce((x, y) => x + y, 0);
  return k.map((x) => x / sum);
})();

/** `plane` filtered by the 11-tap Gaussian (σ 1.5) in both directions, 'valid' region only. */
function blur(plane: Float64Array, width: number, height: number): Float64Array {
  const w = width - 10;
  const h = height - 10;
  const rows = new Float64Array(w * height);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = 0; i < 11; i++) acc += GAUSS[i]! * plane[y * width + x + i]!;
      rows[y * w + x] = acc;
    }
  const out = new Float64Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = 0; i < 11; i++) acc += GAUSS[i]! * rows[(y + i) * w + x]!;
      out[y * w + x] = acc;
    }
  return out;
}

/**
 * Mean SSIM as Wang et al. (2004) define it: 11x11 Gaussian window (σ 1.5), K1 0.01, K2 0.03, L 255,
 * of two same-sized planes.
 */
function ssimPlane(a: Float64Array, b: Float64Array, width: number, height: number): number {
  if (width < 11 || height < 11) return a.every((v, i) => v === b[i]) ? 1 : 0;
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  const prod = (x: Float64Array, y: Float64Array) => x.map((v, i) => v * y[i]!);
  const [ma, mb, aa, bb, ab] = [a, b, prod(a, a), prod(b, b), prod(a, b)].map((p) =>
    blur(p, width, height),
  ) as [Float64Array, Float64Array, Float64Array, Float64Array, Float64Array];
  let sum = 0;
  for (let i = 0; i < ma.length; i++) {
    const [x, y] = [ma[i]!, mb[i]!];
    const va = aa[i]! - x * x;
    const vb = bb[i]! - y * y;
    const cov = ab[i]! - x * y;
    sum += ((2 * x * y + C1) * (2 * cov + C2)) / ((x * x + y * y + C1) * (va + vb + C2));
  }
  return sum / ma.length;
}

/** SSIM of the luma (BT.601) of two same-sized RGBA images, and of their alpha when either has any. */
function ssim(
  a: { data: Buffer; width: number; height: number },
  b: { data: Buffer; width: number; height: number },
): { luma: number; alpha?: number } {
  const n = a.width * a.height;
  const plane = (f: (p: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i * 4));
  const y = (img: { data: Buffer }) =>
    plane((p) => 0.299 * img.data[p]! + 0.587 * img.data[p + 1]! + 0.114 * img.data[p + 2]!);
  const luma = ssimPlane(y(a), y(b), a.width, a.height);
  const alphaOf = (img: { data: Buffer }) => plane((p) => img.data[p + 3]!);
  const [aa, ab] = [alphaOf(a), alphaOf(b)];
  if (aa.every((v) => v === 255) && ab.every((v) => v === 255)) return { luma };
  return { luma, alpha: ssimPlane(aa, ab, a.width, a.height) };
}

/** Every encoding of every variant, by `name.format`. */
function encodings(r: DevelopedImage): Map<string, { file: string; bytes: number }> {
  const out = new Map<string, { file: string; bytes: number }>();
  for (const v of r.variants) {
    out.set(`${v.name}.${v.format}`, v);
    for (const alt of v.alternates ?? []) out.set(`${v.name}.${alt.format}`, alt);
  }
  return out;
}

const hexRgb = (hex: string) => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));

/**
 * Develops `file` both ways (through `encode`, the real encoders when absent) and checks the outputs
 * agree in everything but pixels; returns each encoding's SSIM (luma, or alpha when lower) and how many
 * are the same pixels exactly.
 */
async function compare(
  file: string,
  variants: readonly VariantSpec[] = DEFAULT_VARIANTS,
  encode?: typeof encodeAs,
) {
  const [once, each] = await Promise.all([
    develop(file, variants, 'auto', encode),
    develop(file, variants, 'per-variant', encode),
  ]);
  const { variants: vo, thumbhash: ho, dominantColor: co, ...restOnce } = once;
  const { variants: ve, thumbhash: he, dominantColor: ce, ...restEach } = each;
  expect(restOnce).toEqual(restEach);
  const shape = (vs: DevelopedImage['variants']) =>
    vs.map((v) => ({
      name: v.name,
      format: v.format,
      contentType: v.contentType,
      width: v.width,
      height: v.height,
      alternates: v.alternates?.map((a) => a.format),
    }));
  expect(shape(vo)).toEqual(shape(ve));
  const a = encodings(once);
  const b = encodings(each);
  const scores: Record<string, number> = {};
  const identical: string[] = [];
  for (const [key, enc] of a) {
    const ref = b.get(key)!;
    const [pa, pb] = await Promise.all([rgba(enc.file), rgba(ref.file)]);
    expect([pa.width, pa.height], key).toEqual([pb.width, pb.height]);
    const { luma, alpha } = ssim(pa, pb);
    scores[key] = Math.min(luma, alpha ?? 1);
    if (pa.data.equals(pb.data)) identical.push(key);
  }
  // The placeholder: the same average colour (ThumbHash) and dominant colour, within a few levels.
  const avg = (h: string) => thumbHashToAverageRGBA(Buffer.from(h, 'base64'));
  const [x, y] = [avg(ho), avg(he)];
  for (const k of ['r', 'g', 'b', 'a'] as const)
    expect(Math.abs(x[k] - y[k]), `thumbhash ${k}`).toBeLessThan(0.02);
  expect(co === null, 'no visible pixel').toBe(ce === null);
  if (co !== null && ce !== null) {
    const [dx, dy] = [hexRgb(co), hexRgb(ce)];
    for (let i = 0; i < 3; i++)
      expect(Math.abs(dx[i]! - dy[i]!), `dominant colour ${co} vs ${ce}`).toBeLessThanOrEqual(8);
  }
  return { scores, identical: identical.sort() };
}

const round = (scores: Record<string, number>) =>
  JSON.stringify(scores, (_, v) => (typeof v === 'number' ? Number(v.toFixed(4)) : v));

describe('decoded once: the same output as one pipeline per variant', () => {
  it.each([
    'photos/canon-eos-5d-mark-iii_22mp.jpg',
    'photos/2569067123_aca715a2ee_o.jpg',
    'photos/oppo-r7-plus_13mp_gps.jpg',
    'photos/HMD_Nokia_8.3_5G.jpg',
    'photos/DSCN0010.jpg',
    'orientation/apple-iphone-5_orientation3_gps.jpg',
    'orientation/Landscape_6.jpg',
    'orientation/Portrait_5.jpg',
    'orientation/canon_hdr_NO.jpg',
    'formats/Channel_digital_image_CMYK_color.jpg',
    'formats/blackbug.png',
    'formats/5_webp_a.webp',
    'formats/uncompressed_tiff.tiff',
    'formats/G31D_MULTI.TIF',
    'formats/pitm.avif',
    'formats/IMG_5195.HEIC',
  ])('%s: each variant within SSIM 0.99 of the per-variant recipe', async (file) => {
    const { scores } = await compare(file, DEFAULT_VARIANTS, lossless);
    console.info(`${file}: ${round(scores)}`);
    for (const [key, score] of Object.entries(scores)) expect(score, key).toBeGreaterThanOrEqual(0.99);
  });

  it('the 22 MP photo: one decode for large and medium (medium is resized from the large pixels), the JPEG thumb from its own 1/8 decode', async () => {
    const { scores, identical } = await compare(
      'photos/canon-eos-5d-mark-iii_22mp.jpg',
      DEFAULT_VARIANTS,
      lossless,
    );
    // large: the per-variant recipe's pixels exactly; thumb: the same 1/8 decode; medium: other pixels
    // (the per-variant recipe decodes the file again at 1/2 for it), within SSIM 0.99.
    expect(identical).toEqual(['large.webp', 'thumb.webp']);
    expect(scores['medium.webp']).toBeGreaterThanOrEqual(0.99);
    expect(scores['medium.webp']).toBeLessThan(1);
  });

  it.each([
    'photos/canon-eos-5d-mark-iii_22mp.jpg',
    'photos/2569067123_aca715a2ee_o.jpg',
    'formats/IMG_5195.HEIC',
  ])(
    '%s through the real encoder (WebP q80): each variant as faithful to the per-variant pixels as the per-variant WebP, within 0.01',
    async (file) => {
      const [once, each, reference] = await Promise.all([
        develop(file, DEFAULT_VARIANTS, 'auto'),
        develop(file, DEFAULT_VARIANTS, 'per-variant'),
        develop(file, DEFAULT_VARIANTS, 'per-variant', lossless),
      ]);
      const [o, e, r] = [encodings(once), encodings(each), encodings(reference)];
      const found: Record<string, number> = {};
      for (const [key, ref] of r) {
        const pixels = await rgba(ref.file);
        const ours = ssim(await rgba(o.get(key)!.file), pixels).luma;
        const theirs = ssim(await rgba(e.get(key)!.file), pixels).luma;
        found[`${key} ours`] = ours;
        found[`${key} per-variant`] = theirs;
        expect(ours, key).toBeGreaterThanOrEqual(theirs - 0.01);
      }
      console.info(`${file} (WebP vs the per-variant pixels): ${round(found)}`);
    },
  );

  it('a photo with a wide-gamut profile (Display P3, 4032 px): converted to sRGB after the resize, the same pixels within SSIM 0.999', async () => {
    const p3 = join(workRoot, 'display-p3.jpg');
    await sharp(testImage('photos/canon-eos-5d-mark-iii_22mp.jpg'))
      .resize({ width: 4032 })
      .withIccProfile('p3')
      .jpeg({ quality: 92 })
      .toFile(p3);
    expect((await sharp(p3).metadata()).icc).toBeDefined();
    const { scores } = await compare(p3, DEFAULT_VARIANTS, lossless);
    console.info(`Display P3: ${round(scores)}`);
    expect(scores['large.webp']).toBeGreaterThanOrEqual(0.999);
    for (const [key, score] of Object.entries(scores)) expect(score, key).toBeGreaterThanOrEqual(0.99);
  });

  it('a variant with several formats, JPEG on white for transparency, sizes never enlarged, a variant smaller than the placeholder', async () => {
    const variants = parseVariants('thumb:64:png,card:800:jpeg+webp+avif,huge:9000:webp:90');
    for (const file of ['formats/blackbug.png', 'photos/oppo-r7-plus_13mp_gps.jpg']) {
      const { scores } = await compare(file, variants, lossless);
      console.info(`${file}: ${round(scores)}`);
      expect(Object.keys(scores).sort()).toEqual([
        'card.avif',
        'card.jpeg',
        'card.webp',
        'huge.webp',
        'thumb.png',
      ]);
      for (const [key, score] of Object.entries(scores)) expect(score, key).toBeGreaterThanOrEqual(0.99);
    }
  });
});
