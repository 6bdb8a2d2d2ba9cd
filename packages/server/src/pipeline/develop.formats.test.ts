import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_VARIANTS, parseVariants, type VariantSpec } from '@darkroom/contract';
import { TESTDATA, testImage } from '@darkroom/testdata';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type DevelopedImage, developImage, formatsForMimeTypes } from './develop.ts';

let workRoot: string;
beforeAll(async () => {
  workRoot = await mkdtemp(join(tmpdir(), 'darkroom-formats-'));
});
afterAll(async () => {
  await rm(workRoot, { recursive: true, force: true });
});

async function develop(
  file: string,
  variants: readonly VariantSpec[] = DEFAULT_VARIANTS,
): Promise<DevelopedImage> {
  return developImage(testImage(file), await mkdtemp(join(workRoot, 'job-')), variants, DEFAULT_LIMITS);
}

/** Mean R, G, B of a region of an image file. */
async function regionMean(
  file: string,
  region: { left: number; top: number; width: number; height: number },
): Promise<number[]> {
  const { data, info } = await sharp(file).extract(region).raw().toBuffer({ resolveWithObject: true });
  const sum = [0, 0, 0];
  for (let i = 0; i < data.length; i += info.channels) for (let c = 0; c < 3; c++) sum[c]! += data[i + c]!;
  return sum.map((x) => x / (data.length / info.channels));
}

const sizes = (r: DevelopedImage): string[] => r.variants.map((v) => `${v.name} ${v.width}x${v.height}`);

describe('HEIC (libheif-js)', () => {
  it('iphone_13_pro_max.HEIC: the irot rotation is applied once → portrait 3024x4032', async () => {
    const r = await develop('orientation/iphone_13_pro_max.HEIC');
    expect(r).toMatchObject({ format: 'heif', width: 3024, height: 4032, animated: false });
    expect(sizes(r)).toEqual(['thumb 240x320', 'medium 960x1280', 'large 1920x2560']);
    // Upright, not upside down: the light ceiling (top) is brighter than the blue tablecloth (bottom).
    const top = await regionMean(r.variants[0]!.file, { left: 0, top: 0, width: 240, height: 80 });
    const bottom = await regionMean(r.variants[0]!.file, { left: 0, top: 240, width: 240, height: 80 });
    expect(top[0]! + top[1]! + top[2]!).toBeGreaterThan(bottom[0]! + bottom[1]! + bottom[2]! + 30);
    for (const v of r.variants) {
      const meta = await sharp(v.file).metadata();
      expect(meta.exif).toBeUndefined();
      expect(meta.xmp).toBeUndefined();
    }
  });

  it('IMG_5195.HEIC (GPS, ICC) → 2566x3313, no metadata out', async () => {
    const r = await develop('formats/IMG_5195.HEIC');
    expect(r).toMatchObject({ format: 'heif', width: 2566, height: 3313 });
    expect(sizes(r)).toEqual(['thumb 248x320', 'medium 991x1280', 'large 1983x2560']);
    for (const v of r.variants) {
      const meta = await sharp(v.file).metadata();
      expect([meta.exif, meta.xmp, meta.icc]).toEqual([undefined, undefined, undefined]);
    }
  });

  it('an abort during the HEIC decode stops the worker and leaves no files', async () => {
    const dir = await mkdtemp(join(workRoot, 'abort-'));
    const ac = new AbortController();
    const started = performance.now();
    setTimeout(() => ac.abort(new Error('shutting down')), 100);
    await expect(
      developImage(`${TESTDATA}/formats/IMG_5195.HEIC`, dir, DEFAULT_VARIANTS, DEFAULT_LIMITS, {
        signal: ac.signal,
      }),
    ).rejects.toThrow('shutting down');
    console.info(`HEIC abort returned after ${Math.round(performance.now() - started)} ms`);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('formats', () => {
  it('CMYK JPEG → sRGB, 3 channels, not inverted', async () => {
    const r = await develop('formats/Channel_digital_image_CMYK_color.jpg');
    expect(r).toMatchObject({ format: 'jpeg', width: 500, height: 333 });
    const file = r.variants[2]!.file;
    const meta = await sharp(file).metadata();
    expect(meta).toMatchObject({ space: 'srgb', channels: 3, width: 500, height: 333 });
    expect(meta.icc).toBeUndefined();
    // A park: a light sky above the trees, green grass in the lower-left quarter. Inverted or
    // unmanaged CMYK turns the grass magenta and the sky dark.
    const sky = await regionMean(file, { left: 0, top: 0, width: 500, height: 40 });
    const grass = await regionMean(file, { left: 0, top: 170, width: 150, height: 100 });
    expect((sky[0]! + sky[1]! + sky[2]!) / 3).toBeGreaterThan(100);
    expect(grass[1]!).toBeGreaterThan(grass[0]! + 10);
    expect(grass[1]!).toBeGreaterThan(grass[2]! + 30);
  });

  it.each(['formats/rotating-squares.gif', 'formats/rotating-squares.webp'])(
    '%s stays animated in WebP',
    async (file) => {
      const r = await develop(file, parseVariants('thumb:40,full:320,still:40:png'));
      expect(r).toMatchObject({ animated: true, width: 80, height: 80 });
      const [thumb, full, still] = r.variants;
      expect([thumb!.width, thumb!.height, full!.width, full!.height]).toEqual([40, 40, 80, 80]);
      for (const v of [thumb!, full!]) {
        const meta = await sharp(v.file).metadata();
        expect(meta.pages).toBeGreaterThan(1);
        expect(meta.pageHeight ?? meta.height).toBe(v.height);
      }
      // PNG cannot animate: the first frame, not a strip of all frames.
      expect([still!.width, still!.height]).toEqual([40, 40]);
    },
  );

  it('multi-page TIFF: page 1 only (2464x3248)', async () => {
    const r = await develop('formats/G31D_MULTI.TIF');
    expect(r).toMatchObject({ format: 'tiff', width: 2464, height: 3248, animated: false });
    expect(sizes(r)).toEqual(['thumb 243x320', 'medium 971x1280', 'large 1942x2560']);
  });

  it('uncompressed TIFF', async () => {
    const r = await develop('formats/uncompressed_tiff.tiff');
    expect(r).toMatchObject({ format: 'tiff', width: 246, height: 345 });
    expect(sizes(r)).toEqual(['thumb 228x320', 'medium 246x345', 'large 246x345']);
  });

  it('AVIF grid (pitm): the whole 4096x800 primary item, not one 1024x800 tile', async () => {
    const r = await develop('formats/pitm.avif');
    expect(r).toMatchObject({ format: 'avif', width: 4096, height: 800 });
    expect(sizes(r)).toEqual(['thumb 320x63', 'medium 1280x250', 'large 2560x500']);
  });

  it.each([
    ['formats/blackbug.png', 'png', 2048, 1536],
    ['formats/5_webp_a.webp', 'webp', 300, 300],
    ['hostile/png-disguised-as.jpg', 'png', 256, 192],
  ])('%s keeps its alpha channel in WebP', async (file, format, width, height) => {
    const r = await develop(file);
    expect(r).toMatchObject({ format, width, height, animated: false });
    const meta = await sharp(r.variants[0]!.file).metadata();
    expect(meta.hasAlpha).toBe(true);
  });

  it('writes every output format with its content type; JPEG flattens alpha', async () => {
    const r = await develop(
      'formats/blackbug.png',
      parseVariants('w:64:webp,a:64:avif:40,j:64:jpeg:80,p:64:png'),
    );
    expect(r.variants.map((v) => [v.name, v.format, v.contentType, v.file.split('/').pop()])).toEqual([
      ['w', 'webp', 'image/webp', 'w.webp'],
      ['a', 'avif', 'image/avif', 'a.avif'],
      ['j', 'jpeg', 'image/jpeg', 'j.jpg'],
      ['p', 'png', 'image/png', 'p.png'],
    ]);
    for (const v of r.variants) {
      const meta = await sharp(v.file).metadata();
      expect(meta.format).toBe(v.format === 'avif' ? 'heif' : v.format);
      expect([meta.width, meta.height]).toEqual([64, 48]);
      expect(meta.hasAlpha).toBe(v.format !== 'jpeg');
      expect([meta.exif, meta.xmp]).toEqual([undefined, undefined]);
    }
  });

  it('placeholders: thumbhash decodes to the aspect ratio, dominant colour is #rrggbb', async () => {
    const { thumbHashToApproximateAspectRatio } = await import('thumbhash');
    const r = await develop('photos/HMD_Nokia_8.3_5G.jpg', parseVariants('t:100'));
    expect(r.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
    const ratio = thumbHashToApproximateAspectRatio(Buffer.from(r.thumbhash, 'base64'));
    expect(Math.abs(ratio - 4608 / 1976)).toBeLessThan(0.3);
  });

  describe('dominant colour: the perceptual mean of the visible pixels (issue 17)', () => {
    /** Distance of two '#rrggbb' colours, the largest channel difference. */
    const apart = (x: string, y: string): number =>
      Math.max(
        ...[1, 3, 5].map((i) => Math.abs(parseInt(x.slice(i, i + 2), 16) - parseInt(y.slice(i, i + 2), 16))),
      );

    it('a purple-flower HEIC framed by dark leaves is the mid tone it looks, not its shadows', async () => {
      const r = await develop('formats/IMG_5195.HEIC', parseVariants('t:100'));
      // Its plain sRGB mean is about #7c7877; it was #080808 (the fullest histogram bin).
      expect(apart(r.dominantColor!, '#7c7877')).toBeLessThan(24);
      expect(r.transparent).toBe(false);
    });

    it('a mostly transparent PNG is the colour of its ink, and says it is transparent', async () => {
      // blackbug.png: black handwriting on ~99 % fully transparent pixels.
      const r = await develop('formats/blackbug.png', parseVariants('t:100'));
      expect(r.transparent).toBe(true);
      expect(apart(r.dominantColor!, '#000000')).toBeLessThan(40);
    });

    it('transparent pixels do not count, whatever colour the file stores for them', async () => {
      // 400x400: a 100x100 opaque orange square; the rest transparent, stored as black on the left
      // half and white on the right (encoders keep whatever RGB is there).
      const rgba = Buffer.alloc(400 * 400 * 4);
      for (let y = 0; y < 400; y++) {
        for (let x = 0; x < 400; x++) {
          const i = (y * 400 + x) * 4;
          const inSquare = x >= 150 && x < 250 && y >= 150 && y < 250;
          const rgb = inSquare ? [0xff, 0x88, 0x00] : x < 200 ? [0, 0, 0] : [255, 255, 255];
          rgba.set([...rgb, inSquare ? 255 : 0], i);
        }
      }
      const file = join(workRoot, 'orange-square.png');
      await sharp(rgba, { raw: { width: 400, height: 400, channels: 4 } })
        .png()
        .toFile(file);
      const r = await developImage(
        file,
        await mkdtemp(join(workRoot, 'job-')),
        parseVariants('t:100'),
        DEFAULT_LIMITS,
      );
      expect(r.transparent).toBe(true);
      expect(apart(r.dominantColor!, '#ff8800')).toBeLessThan(8);
    });

    it('an opaque photo is not transparent', async () => {
      const r = await develop('photos/DSCN0010.jpg', parseVariants('t:100'));
      expect(r.transparent).toBe(false);
      expect(r.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
    });
  });

  it('the polyglot MP3/JPEG is developed as the 6x2 JPEG it is, and never enlarged', async () => {
    const r = await develop('hostile/mp3jpg.mp3');
    expect(r).toMatchObject({ format: 'jpeg', width: 6, height: 2 });
    expect(sizes(r)).toEqual(['thumb 6x2', 'medium 6x2', 'large 6x2']);
  });

  it('maps declared MIME types to detected formats', () => {
    expect(
      formatsForMimeTypes(['image/jpeg', 'image/png', 'image/heic', 'image/heif', 'image/svg+xml']),
    ).toEqual(['jpeg', 'png', 'heif']);
  });
});
