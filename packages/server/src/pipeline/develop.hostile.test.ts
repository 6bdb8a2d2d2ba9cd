import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_VARIANTS } from '@darkroom/contract';
import { TESTDATA, testImage } from '@darkroom/testdata';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, developImage, type PipelineLimits } from './develop.ts';
import { PipelineError, type PipelineErrorCode } from './errors.ts';

let workRoot: string;
beforeAll(async () => {
  workRoot = await mkdtemp(join(tmpdir(), 'darkroom-hostile-'));
});
afterAll(async () => {
  await rm(workRoot, { recursive: true, force: true });
});

/** Runs the pipeline and returns the PipelineError code (failing the test on success or another error). */
async function refusal(file: string, limits: PipelineLimits = DEFAULT_LIMITS): Promise<PipelineErrorCode> {
  const dir = await mkdtemp(join(workRoot, 'job-'));
  const t0 = performance.now();
  try {
    await developImage(testImage(file), dir, DEFAULT_VARIANTS, limits);
  } catch (e) {
    console.info(`${file}: ${(e as Error).message} (${(performance.now() - t0).toFixed(0)} ms)`);
    expect(e).toBeInstanceOf(PipelineError);
    expect(await readdir(dir)).toEqual([]); // nothing half-written is left for the caller
    return (e as PipelineError).code;
  }
  throw new Error(`${file} was accepted`);
}

describe('hostile files are refused with a stable code', () => {
  it.each<[string, PipelineErrorCode]>([
    ['hostile/empty.jpg', 'empty_file'],
    ['hostile/not-an-image.jpg', 'unsupported_type'],
    ['hostile/maliciousJsAndPhpTest.svg', 'unsupported_type'],
    ['hostile/xlinkLaughsTest.svg', 'unsupported_type'],
    ['formats/check.svg', 'unsupported_type'],
    ['hostile/65536-uint32-limit.png', 'too_many_pixels'],
    ['hostile/giant-image.jpg', 'too_many_pixels'],
    ['hostile/decompression_bomb.gif', 'too_many_pixels'],
    ['hostile/truncated.jpg', 'corrupt_image'],
    ['hostile/truncated.png', 'corrupt_image'],
    ['hostile/corrupt-header.jpg', 'corrupt_image'],
    ['hostile/corrupted.jpg', 'corrupt_image'],
    ['hostile/broken.png', 'corrupt_image'],
    ['hostile/crash-20ca2625096a205937b809a7841e7f019f0b2dc6.heic', 'corrupt_image'],
  ])('%s → %s', async (file, code) => {
    expect(await refusal(file)).toBe(code);
  });

  it('SVG is refused even when a configuration lists it', async () => {
    const limits = { ...DEFAULT_LIMITS, allowedFormats: [...DEFAULT_LIMITS.allowedFormats, 'svg'] };
    expect(await refusal('formats/check.svg', limits)).toBe('unsupported_type');
  });

  it('the pixel limit is configurable', async () => {
    const limits = { ...DEFAULT_LIMITS, maxPixels: 5_000_000 };
    expect(await refusal('photos/2569067123_aca715a2ee_o.jpg', limits)).toBe('too_many_pixels');
    expect(await refusal('formats/IMG_5195.HEIC', limits)).toBe('too_many_pixels');
  });

  it('too_large: the byte limit is checked before anything is read', async () => {
    expect(await refusal('photos/DSCN0010.jpg', { ...DEFAULT_LIMITS, maxInputBytes: 100_000 })).toBe(
      'too_large',
    );
  });

  it('a detected format that is not allowed is unsupported_type, whatever the file name says', async () => {
    const noPng = { ...DEFAULT_LIMITS, allowedFormats: ['jpeg'] };
    expect(await refusal('hostile/png-disguised-as.jpg', noPng)).toBe('unsupported_type');
    const noHeif = { ...DEFAULT_LIMITS, allowedFormats: ['jpeg', 'avif'] };
    expect(await refusal('formats/IMG_5195.HEIC', noHeif)).toBe('unsupported_type');
    const noAvif = { ...DEFAULT_LIMITS, allowedFormats: ['jpeg', 'heif'] };
    expect(await refusal('formats/pitm.avif', noAvif)).toBe('unsupported_type');
  });
});

describe('hostile files that are accepted, on purpose', () => {
  it('png_decompression_dos.png: a valid 1x1 PNG, developed; its 6 MiB of zTXt text is not copied out', async () => {
    const before = process.memoryUsage().rss;
    const r = await developImage(
      `${TESTDATA}/hostile/png_decompression_dos.png`,
      await mkdtemp(join(workRoot, 'job-')),
      DEFAULT_VARIANTS,
      DEFAULT_LIMITS,
    );
    console.info(
      `png_decompression_dos.png: RSS grew by ${((process.memoryUsage().rss - before) / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(r).toMatchObject({ format: 'png', width: 1, height: 1 });
    for (const v of r.variants) {
      const meta = await sharp(v.file).metadata();
      expect([meta.width, meta.height, meta.comments, meta.exif]).toEqual([1, 1, undefined, undefined]);
    }
  });
});

describe('PNG text-chunk bomb (generated here)', () => {
  it('20 zTXt chunks of 32 MiB each are dropped unread: the 1x1 image is developed at once', async () => {
    const { deflateSync, crc32 } = await import('node:zlib');
    const chunk = (type: string, data: Buffer): Buffer => {
      const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(data.length);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      return Buffer.concat([len, body, crc]);
    };
    const ihdr = Buffer.from([0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
    const text = deflateSync(Buffer.alloc(32 * 2 ** 20, 0x41), { level: 9 });
    const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
    for (let i = 0; i < 20; i++) parts.push(chunk('zTXt', Buffer.concat([Buffer.from(`k${i}\0\0`), text])));
    parts.push(chunk('IDAT', deflateSync(Buffer.from([0, 0]))), chunk('IEND', Buffer.alloc(0)));
    const dir = await mkdtemp(join(workRoot, 'bomb-'));
    const bomb = join(dir, 'ztxt-bomb.png');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(bomb, Buffer.concat(parts));
    const out = await mkdtemp(join(workRoot, 'job-'));
    const t0 = performance.now();
    const r = await developImage(bomb, out, DEFAULT_VARIANTS, DEFAULT_LIMITS);
    console.info(`zTXt bomb: ${(performance.now() - t0).toFixed(0)} ms (42 s and 3.3 GB RSS before the fix)`);
    expect(r).toMatchObject({ format: 'png', width: 1, height: 1 });
    expect((await readdir(out)).sort()).toEqual(['large.webp', 'medium.webp', 'thumb.webp']); // scratch copy removed
  });
});
