/**
 * The image pipeline: one original file in, re-encoded variants + placeholders out. Pure with respect to
 * the rest of Darkroom (no queue, DB or storage): the worker downloads the original to a temp file,
 * calls {@link developImage}, uploads the files it returns and deletes the work directory.
 *
 * Trust nothing the client said:
 * - the format comes from the bytes (magic numbers, then the decoder), never from the name or
 *   Content-Type; SVG is refused outright, never rasterised;
 * - the pixel count is checked from the headers BEFORE any pixel is decoded (libvips
 *   `limitInputPixels`, our own GIF frame scan, libheif's header for HEIC), so bombs fail in
 *   milliseconds with bounded memory;
 * - every output is re-encoded from pixels: EXIF (GPS, serial numbers…), XMP, IPTC, ICC profiles and
 *   comments are never copied (sharp writes no metadata unless asked); pixels are converted to sRGB and
 *   orientation is baked in.
 *
 * - PNG text chunks are dropped before decoding (zTXt bombs, see png.ts).
 *
 * Speed: a still image is decoded once, to its largest output, and the smaller outputs are resized
 * from those pixels in memory (see developOnce), not decoded from the file again for each; an embedded
 * colour profile is applied to that output's pixels rather than to every pixel of the original.
 *
 * Memory (measured, fresh process, default variants, including ~90 MB of Node + libvips baseline):
 * 22 MP JPEG ≈ 170 MB peak RSS, 13 MP ≈ 165 MB, 12 MP HEIC ≈ 200 MB (decoding once holds the largest
 * output's pixels, 13 MB by default, and measured no more than one pipeline per variant), bombs ≈ 90 MB
 * (refused from the headers). libvips streams from the file in strips and shrinks JPEGs on load; EXIF
 * 5-8 rotations and HEIC need the decoded image in memory once (≈ 3-4 bytes × pixels), so the worst
 * case per image is bounded by `maxPixels` (80 MP ≈ 320 MB of pixels).
 */
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertValidVariant,
  CONTENT_TYPES,
  FILE_EXTENSIONS,
  fitInside,
  type VariantFormat,
  type VariantSpec,
  variantFormats,
} from '@darkroom/contract';
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { type ColourSummary, describeColour } from './colour.ts';
import { PipelineError } from './errors.ts';
import { decodeHeif } from './heif.ts';
import { withImagingSlot } from './imaging-slots.ts';
import { stripPngText } from './png.ts';
import { DECODABLE_FORMATS, type DecodableFormat, gifFrames, SNIFF_BYTES, sniffFormat } from './sniff.ts';

export interface PipelineLimits {
  /** Refuse images with more pixels than this (all frames counted for animations). */
  maxPixels: number;
  /** Refuse originals larger than this many bytes. */
  maxInputBytes: number;
  /** DETECTED formats to accept: any of 'jpeg', 'png', 'webp', 'avif', 'gif', 'heif', 'tiff'. */
  allowedFormats: readonly string[];
}

export const DEFAULT_LIMITS: Readonly<PipelineLimits> = Object.freeze({
  // 80 MP: above any phone or full-frame camera (a 61 MP Sony A7R IV is 9504x6336), far below libvips'
  // own default of 268 MP. Worst-case decoded size ≈ 80 MP × 4 B = 320 MB.
  maxPixels: 80_000_000,
  maxInputBytes: 200 * 1024 ** 2, // DARKROOM_MAX_UPLOAD_BYTES' default
  allowedFormats: DECODABLE_FORMATS,
});

/** One more encoding of a variant's pixels (a spec listing several formats). */
export interface DevelopedEncoding {
  format: VariantFormat;
  contentType: string;
  bytes: number;
  /** Path of a file under `workDir` holding the encoded bytes. */
  file: string;
}

export interface DevelopedVariant {
  name: string;
  /** 'webp' | 'avif' | 'jpeg' | 'png' */
  format: string;
  contentType: string;
  width: number;
  /** Height of one frame for animations. */
  height: number;
  bytes: number;
  /** Path of a file under `workDir` holding the encoded bytes. */
  file: string;
  /** The spec's other formats, same pixels; absent when it lists one. */
  alternates?: DevelopedEncoding[];
}

export interface DevelopedImage {
  /** Detected from the bytes: 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'heif' (HEVC) | 'avif' (AV1). */
  format: string;
  /** Size after orientation (one frame for animations). */
  width: number;
  height: number;
  animated: boolean;
  /** ThumbHash of the upright image, base64. */
  thumbhash: string;
  /** '#rrggbb': the perceptual mean of the visible pixels (see colour.ts); null when none is visible. */
  dominantColor: string | null;
  /** Some pixel is not fully opaque: show the image on a backdrop that is not its own colour. */
  transparent: boolean;
  variants: DevelopedVariant[];
}

/** Maps declared MIME types (DARKROOM_ALLOWED_TYPES) to the detected-format names used by the pipeline. */
export function formatsForMimeTypes(types: readonly string[]): DecodableFormat[] {
  const map: Record<string, DecodableFormat> = {
    'image/jpeg': 'jpeg',
    'image/jpg': 'jpeg',
    'image/pjpeg': 'jpeg',
    'image/png': 'png',
    'image/apng': 'png',
    'image/gif': 'gif',
    'image/webp': 'webp',
    'image/avif': 'avif',
    'image/heic': 'heif',
    'image/heif': 'heif',
    'image/heic-sequence': 'heif',
    'image/heif-sequence': 'heif',
    'image/tiff': 'tiff',
  };
  const out = new Set<DecodableFormat>();
  for (const t of types) {
    const f = map[t.toLowerCase()];
    if (f) out.add(f);
  }
  return [...out];
}

function isDecodable(format: string): format is DecodableFormat {
  return (DECODABLE_FORMATS as readonly string[]).includes(format);
}

let sharpConfigured = false;

/**
 * Process-wide libvips settings. Called with defaults on the first {@link developImage}; call it earlier
 * to choose. `cache: false` (default): a worker never reuses an input, so libvips' operation cache would
 * only hold memory. `concurrency` (default 1): libvips threads PER IMAGE; the worker's parallelism comes
 * from processing several images at once, and memory grows with threads × images. At most
 * UV_THREADPOOL_SIZE (default 4) sharp operations run at the same time.
 */
export function configureSharp(options: { concurrency?: number; cache?: boolean } = {}): void {
  sharp.cache(options.cache ?? false);
  sharp.concurrency(options.concurrency ?? 1);
  sharpConfigured = true;
}

/** GIF frames are scanned in the first MiB (enough for any bomb to be declared up front). */
const GIF_SCAN_BYTES = 1024 ** 2;

async function readPrefix(file: string, bytes: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

function firstLine(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split('\n')[0] ?? msg;
}

/** Decode failures are the file's fault (permanent); I/O and memory failures are not and pass through. */
function decodeError(e: unknown): Error {
  if (e instanceof PipelineError) return e;
  const msg = firstLine(e);
  if (/pixel limit/i.test(msg)) {
    return new PipelineError('too_many_pixels', 'image has more pixels than allowed', { cause: e });
  }
  if (
    /unable to (open|write)|for write|input file is missing|ENOENT|ENOSPC|no space left|EACCES|EROFS|out of memory/i.test(
      msg,
    )
  ) {
    return e instanceof Error ? e : new Error(msg);
  }
  return new PipelineError('corrupt_image', `image could not be decoded: ${msg}`, { cause: e });
}

interface Source {
  input: string | Buffer;
  options: SharpOptions;
}

/**
 * Adds the output encoder for `format` with Darkroom's settings (quality defaults per format; JPEG is
 * flattened onto white). Shared by the worker's variants and the delivery routes' transforms.
 */
export function encodeAs(img: Sharp, format: VariantFormat, quality: number | undefined): Sharp {
  switch (format) {
    case 'webp':
      return img.webp({ quality: quality ?? 80, effort: 4 });
    case 'avif':
      return img.avif({ quality: quality ?? 50, effort: 4 });
    case 'jpeg':
      return img.flatten({ background: '#ffffff' }).jpeg({ quality: quality ?? 82, mozjpeg: true });
    case 'png':
      return img.png({
        compressionLevel: 9,
        adaptiveFiltering: true,
        ...(quality ? { quality, palette: true } : {}),
      });
  }
}

/**
 * Develops the original at `inputFile` into `variants`, written as `{name}.{ext}` (one file per format
 * the spec lists) under `workDir`
 * (use a fresh directory per job). Throws {@link PipelineError} for anything wrong with the file itself;
 * other errors (I/O, abort) are the caller's to retry. Files already written are removed on failure.
 */
export async function developImage(
  inputFile: string,
  workDir: string,
  variants: readonly VariantSpec[],
  limits: PipelineLimits,
  opts: {
    signal?: AbortSignal;
    /**
     * `auto` (default): still images decoded once and cascaded; `per-variant`: one pipeline per variant
     * from the file, the reference the cascade is measured and tested against.
     */
    recipe?: 'auto' | 'per-variant';
    /** Replaces {@link encodeAs}: tests compare the recipes' pixels through a lossless encoder. */
    encode?: typeof encodeAs;
  } = {},
): Promise<DevelopedImage> {
  const { signal, recipe = 'auto', encode = encodeAs } = opts;
  const names = new Set<string>();
  for (const v of variants) {
    assertValidVariant(v);
    if (names.has(v.name)) throw new TypeError(`duplicate variant name "${v.name}"`);
    names.add(v.name);
  }
  if (!sharpConfigured) configureSharp();
  signal?.throwIfAborted();

  // 1. Size, before reading anything.
  const { size } = await stat(inputFile);
  if (size === 0) throw new PipelineError('empty_file', 'the file is empty');
  if (size > limits.maxInputBytes) {
    throw new PipelineError('too_large', `the file is ${size} bytes; the limit is ${limits.maxInputBytes}`);
  }

  // 2. What it is, from magic numbers.
  const head = await readPrefix(inputFile, SNIFF_BYTES);
  const sniffed = sniffFormat(head);
  if (sniffed === undefined)
    throw new PipelineError('unsupported_type', 'the file is not a recognised image');
  if (!isDecodable(sniffed)) {
    throw new PipelineError('unsupported_type', `${sniffed.toUpperCase()} files are not accepted`);
  }
  if (sniffed === 'gif') {
    const scan = size <= SNIFF_BYTES ? head : await readPrefix(inputFile, Math.min(size, GIF_SCAN_BYTES));
    for (const f of gifFrames(scan).frames) {
      if (f.width * f.height > limits.maxPixels) {
        throw new PipelineError('too_many_pixels', `a GIF frame declares ${f.width}x${f.height} pixels`);
      }
    }
  }

  // PNG text chunks (tEXt/zTXt/iTXt) are dropped before libvips sees them: zTXt bombs.
  const scratch = join(workDir, '.source.png');
  const decodeFrom = sniffed === 'png' && (await stripPngText(inputFile, scratch)) ? scratch : inputFile;
  try {
    // From here on libvips works: in one of the process's image-work slots, so file I/O keeps threads.
    return await withImagingSlot(() =>
      develop(decodeFrom, workDir, variants, limits, signal, recipe, encode),
    );
  } finally {
    if (decodeFrom !== inputFile) await rm(decodeFrom, { force: true });
  }
}

async function develop(
  inputFile: string,
  workDir: string,
  variants: readonly VariantSpec[],
  limits: PipelineLimits,
  signal: AbortSignal | undefined,
  recipe: 'auto' | 'per-variant',
  encode: typeof encodeAs,
): Promise<DevelopedImage> {
  // 3. Headers only: libvips refuses over-limit images here, before decoding pixels.
  const base: SharpOptions = { failOn: 'error', limitInputPixels: limits.maxPixels };
  let meta: Metadata;
  try {
    meta = await sharp(inputFile, base).metadata();
  } catch (e) {
    throw decodeError(e);
  }
  let format: DecodableFormat;
  if (meta.format === 'heif') format = meta.compression === 'av1' ? 'avif' : 'heif';
  else if (isDecodable(meta.format)) format = meta.format;
  else throw new PipelineError('unsupported_type', `${meta.format.toUpperCase()} files are not accepted`);
  if (!limits.allowedFormats.includes(format)) {
    throw new PipelineError('unsupported_type', `${format.toUpperCase()} images are not accepted here`);
  }
  const pages = meta.pages ?? 1;
  // Only GIF and WebP animate; a multi-page TIFF or a HEIF/AVIF collection uses its first/primary image.
  const animated = (format === 'gif' || format === 'webp') && pages > 1;
  const frameHeight = animated ? (meta.pageHeight ?? meta.height) : meta.height;
  if (meta.width * frameHeight * (animated ? pages : 1) > limits.maxPixels) {
    throw new PipelineError(
      'too_many_pixels',
      `${meta.width}x${frameHeight}×${pages} exceeds the pixel limit`,
    );
  }
  signal?.throwIfAborted();

  // 4. The pixel source. HEVC HEIF: decoded by libheif-js (rotation applied there, once).
  let source: Source;
  let width: number;
  let height: number;
  if (format === 'heif') {
    const d = await decodeHeif(inputFile, limits.maxPixels, signal);
    source = {
      input: d.data,
      options: {
        raw: { width: d.width, height: d.height, channels: d.channels },
        limitInputPixels: limits.maxPixels,
      },
    };
    width = d.width;
    height = d.height;
  } else {
    source = { input: inputFile, options: { ...base, autoOrient: true } };
    width = meta.autoOrient.width;
    height = animated ? frameHeight : meta.autoOrient.height;
  }

  // 5. Variants and placeholders. Still 8-bit colour images are decoded once ({@link developOnce});
  //    animations, and pixels the cascade would change (greyscale, 16-bit), take one pipeline per variant.
  const once =
    recipe === 'auto' &&
    !animated &&
    (format === 'heif' || (meta.depth === 'uchar' && (meta.space === 'srgb' || meta.space === 'cmyk')));
  const job: Job = { source, workDir, variants, signal, encode };
  const developed =
    (once
      ? await developOnce(job, {
          jpeg: format === 'jpeg',
          // An embedded profile on RGB pixels read from the file (HEIF comes as raw sRGB from libheif-js).
          convertLate: format !== 'heif' && meta.space === 'srgb' && meta.icc !== undefined,
          width,
          height,
        })
      : undefined) ?? (await developEach(job, animated));
  return { format, width, height, animated, ...developed };
}

type Developed = Pick<DevelopedImage, 'thumbhash' | 'dominantColor' | 'transparent' | 'variants'>;

/** What both recipes take: the pixels, where to write, what to make, and how to encode it. */
interface Job {
  source: Source;
  workDir: string;
  variants: readonly VariantSpec[];
  signal: AbortSignal | undefined;
  encode: typeof encodeAs;
}

/** The placeholder is rendered this size (fit inside) before its ThumbHash and dominant colour. */
const PLACEHOLDER_SIZE = 100;

/** Runs `work`; when it fails, removes every file it had listed in `written`. */
async function writingAll<T>(written: string[], work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    await Promise.all(written.map((f) => rm(f, { force: true })));
    throw e;
  }
}

/**
 * One libvips pipeline per variant and format, each from the source (JPEG shrink-on-load keeps small
 * variants cheap), then the placeholder from the source too. For animations, whose WebP variants keep
 * every frame, and for pixels {@link developOnce} would change (greyscale stays greyscale in PNG/JPEG,
 * 16-bit stays 16-bit in PNG); and the reference {@link developOnce} is tested against.
 */
async function developEach(job: Job, animated: boolean): Promise<Developed> {
  const { source, workDir, variants, signal, encode } = job;
  const written: string[] = [];
  return writingAll(written, async () => {
    const out: DevelopedVariant[] = [];
    for (const spec of variants) {
      // Every format of a spec is resized the same way, so they all have the primary's size.
      const encodings: { encoding: DevelopedEncoding; info: OutputInfo; animated: boolean }[] = [];
      for (const format of variantFormats(spec)) {
        signal?.throwIfAborted();
        const keepAnimation = animated && format === 'webp';
        const file = join(workDir, `${spec.name}.${FILE_EXTENSIONS[format]}`);
        const img = sharp(source.input, { ...source.options, animated: keepAnimation }).resize({
          width: spec.maxDimension,
          height: spec.maxDimension,
          fit: 'inside',
          withoutEnlargement: true,
        });
        written.push(file);
        let info: OutputInfo;
        try {
          info = await encode(img, format, spec.quality).toFile(file);
        } catch (e) {
          throw decodeError(e);
        }
        const encoding = { format, contentType: CONTENT_TYPES[format], bytes: info.size, file };
        encodings.push({ encoding, info, animated: keepAnimation });
      }
      const [primary, ...rest] = encodings;
      if (!primary) continue; // unreachable: a spec has at least one format
      out.push({
        name: spec.name,
        ...primary.encoding,
        width: primary.info.width,
        height: primary.animated ? (primary.info.pageHeight ?? primary.info.height) : primary.info.height,
        ...(rest.length > 0 ? { alternates: rest.map((r) => r.encoding) } : {}),
      });
    }
    signal?.throwIfAborted();
    let small: Pixels;
    try {
      small = await toPixels(
        sharp(source.input, source.options)
          .resize({
            width: PLACEHOLDER_SIZE,
            height: PLACEHOLDER_SIZE,
            fit: 'inside',
            withoutEnlargement: true,
          })
          .ensureAlpha(),
      );
    } catch (e) {
      throw decodeError(e);
    }
    return { ...placeholders(small), variants: out };
  });
}

/** Decoded pixels in memory: 8-bit, sRGB (3 channels) or sRGB + alpha (4), upright. */
interface Pixels {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

function fromPixels(p: Pixels): Sharp {
  // developOnce checks the decode gave 3 or 4 channels; resizes and ensureAlpha keep to those.
  const channels = p.channels as 3 | 4;
  return sharp(p.data, { raw: { width: p.width, height: p.height, channels } });
}

async function toPixels(img: Sharp): Promise<Pixels> {
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * The factor sharp would shrink a JPEG by while decoding it for an output `shrink` times smaller (its
 * pipeline.cc: the largest of 8, 4, 2 that fits, halved when it equals the whole factor, for libjpeg's
 * rounding). Other formats: 1 (WebP scales on load too, but any factor is exact there).
 */
function jpegShrinkOnLoad(shrink: number): number {
  const factor = shrink >= 8 ? 8 : shrink >= 4 ? 4 : shrink >= 2 ? 2 : 1;
  return factor > 1 && Math.floor(shrink) === factor ? factor / 2 : factor;
}

/** One output size: a variant's or the placeholder's. */
interface Level {
  width: number;
  height: number;
  /** The box it fits inside, as the per-variant recipe asks sharp for it. */
  maxDimension: number;
}

/**
 * Decode once, then resize from memory. The source is decoded ONCE, auto-oriented, straight to the
 * largest output (exactly as the per-variant recipe makes that output), into memory; every smaller size
 * is resized from those pixels (one resampling step each, so errors do not add up), and every format of
 * a variant is encoded from its pixels; the placeholder comes from the smallest of them. The per-variant
 * recipe ({@link developEach}) decodes the file again for each variant and for the placeholder.
 *
 * An embedded ICC profile (RGB) is applied after that first resize, to the largest output's pixels,
 * instead of to every decoded pixel (see `decode` below).
 *
 * One exception keeps JPEG thumbnails as they were: sizes a JPEG is shrunk 8 times for while it is
 * decoded (the 320 px thumb of a phone photo) share one more decode at 1/8, which costs little (libjpeg
 * keeps only each 8x8 block's average) and whose softer look a resize from the large pixels does not
 * reproduce within SSIM 0.99.
 *
 * The output is the same: the same sizes (the contract's fitInside), formats, encoder settings and
 * placeholder, and each variant's pixels within SSIM 0.99 of the per-variant recipe's (develop.once.test.ts).
 * Memory: the largest output's pixels (2560x1707x3 = 13 MB by default), which its WebP encoder holds
 * anyway. Returns undefined, having written nothing, when the decoded pixels are not RGB(A) after all.
 */
async function developOnce(
  job: Job,
  image: {
    /** JPEG: decoded smaller on load, by 8 at most. */
    jpeg: boolean;
    /** RGB with an embedded ICC profile: converted to sRGB after the first resize, not before. */
    convertLate: boolean;
    width: number;
    height: number;
  },
): Promise<Developed | undefined> {
  const { source, workDir, variants, signal, encode } = job;
  const { jpeg, convertLate, width, height } = image;
  const levelOf = (maxDimension: number): Level => ({
    ...fitInside(width, height, maxDimension),
    maxDimension,
  });
  const key = (s: { width: number; height: number }) => `${s.width}x${s.height}`;
  const byKey = new Map<string, Level>();
  for (const l of [...variants.map((v) => levelOf(v.maxDimension)), levelOf(PLACEHOLDER_SIZE)])
    if (!byKey.has(key(l))) byKey.set(key(l), l);
  const levels = [...byKey.values()].sort((a, b) => b.width * b.height - a.width * a.height);
  const eighth = (l: Level) => jpeg && jpegShrinkOnLoad(Math.min(width / l.width, height / l.height)) === 8;
  /**
   * Decodes the source straight to `l`, as the per-variant recipe does for that size; with `late`, the
   * colour conversion from the embedded profile comes after the resize instead of before it.
   */
  const decode = async (l: Level, late: boolean): Promise<Pixels> => {
    let img = sharp(source.input, source.options);
    if (l.width !== width || l.height !== height)
      img = img.resize({
        width: l.maxDimension,
        height: l.maxDimension,
        fit: 'inside',
        withoutEnlargement: true,
      });
    if (!late) return toPixels(img);
    // sharp converts an image with an embedded profile to sRGB as soon as it is decoded, i.e. on every
    // pixel of the photo (22 MP: ~320 ms of lcms, more than the decode). Keeping the profile through the
    // resize and converting the result costs a fifth of that, and gives the same pixels to within
    // SSIM 0.999 (exactly the same for an sRGB profile; tested with Display P3 in develop.once.test.ts).
    // The uncompressed TIFF is only the carrier of pixels + profile between the two sharp pipelines.
    const resized = await img.keepIccProfile().tiff({ compression: 'none' }).toBuffer();
    return toPixels(sharp(resized));
  };
  const written: string[] = [];
  return writingAll(written, async () => {
    const out = new Map<string, DevelopedVariant>();
    let top: Pixels | undefined;
    let small: Pixels | undefined;
    let pixels: Pixels | undefined;
    for (const level of levels) {
      signal?.throwIfAborted();
      try {
        if (!top) {
          pixels = top = await decode(level, convertLate);
          // Not RGB(A) after all (the headers promised sRGB or CMYK): the per-variant recipe, as before.
          if (top.channels !== 3 && top.channels !== 4) return undefined;
        } else if (!small && eighth(level) && !eighth(levels[0]!)) {
          pixels = small = await decode(level, false);
        } else {
          const from = small && eighth(level) ? small : top;
          pixels =
            from.width === level.width && from.height === level.height
              ? from
              : await toPixels(
                  fromPixels(from).resize({ width: level.width, height: level.height, fit: 'fill' }),
                );
        }
      } catch (e) {
        throw decodeError(e);
      }
      for (const spec of variants) {
        if (key(levelOf(spec.maxDimension)) !== key(level)) continue;
        const encodings: DevelopedEncoding[] = [];
        for (const format of variantFormats(spec)) {
          signal?.throwIfAborted();
          const file = join(workDir, `${spec.name}.${FILE_EXTENSIONS[format]}`);
          written.push(file);
          let info: OutputInfo;
          try {
            info = await encode(fromPixels(pixels), format, spec.quality).toFile(file);
          } catch (e) {
            throw decodeError(e);
          }
          encodings.push({ format, contentType: CONTENT_TYPES[format], bytes: info.size, file });
        }
        const [primary, ...rest] = encodings;
        if (!primary) continue; // unreachable: a spec has at least one format
        out.set(spec.name, {
          name: spec.name,
          ...primary,
          width: pixels.width,
          height: pixels.height,
          ...(rest.length > 0 ? { alternates: rest } : {}),
        });
      }
    }
    // The last level is the smallest: the placeholder's size or, when a variant is smaller still, that.
    const last = pixels!;
    const place = levelOf(PLACEHOLDER_SIZE);
    const sample =
      last.width === place.width && last.height === place.height
        ? fromPixels(last)
        : fromPixels(top!).resize({ width: place.width, height: place.height, fit: 'fill' });
    return {
      ...placeholders(await toPixels(sample.ensureAlpha())),
      variants: variants.flatMap((v) => out.get(v.name) ?? []),
    };
  });
}

/** ThumbHash, dominant colour and transparency, from one ~100 px RGBA sample of the upright image. */
function placeholders(small: Pixels): { thumbhash: string } & ColourSummary {
  const thumbhash = Buffer.from(rgbaToThumbHash(small.width, small.height, small.data)).toString('base64');
  return { thumbhash, ...describeColour(small.data) };
}
