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
 * Memory (measured, fresh process, default variants, including ~90 MB of Node + libvips baseline):
 * 22 MP JPEG ≈ 170 MB peak RSS, 13 MP ≈ 145 MB, 12 MP HEIC ≈ 230 MB, bombs ≈ 90 MB (refused from the
 * headers). libvips streams from the file in strips and shrinks JPEGs on load; EXIF 5-8 rotations and
 * HEIC need the decoded image in memory once (≈ 3-4 bytes × pixels), so the worst case per image is
 * bounded by `maxPixels` (80 MP ≈ 320 MB of pixels).
 */
import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertValidVariant,
  CONTENT_TYPES,
  FILE_EXTENSIONS,
  type VariantFormat,
  type VariantSpec,
  variantFormats,
} from '@darkroom/contract';
import sharp, { type Metadata, type OutputInfo, type Sharp, type SharpOptions } from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';
import { type ColourSummary, describeColour } from './colour.ts';
import { PipelineError } from './errors.ts';
import { decodeHeif } from './heif.ts';
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
  opts: { signal?: AbortSignal } = {},
): Promise<DevelopedImage> {
  const { signal } = opts;
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
    return await develop(decodeFrom, workDir, variants, limits, signal);
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

  // 5. Variants, one libvips pipeline each (each streams from the file; JPEG shrink-on-load keeps small
  //    variants cheap), then placeholders.
  const written: string[] = [];
  try {
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
          info = await encodeAs(img, format, spec.quality).toFile(file);
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
    const { thumbhash, dominantColor, transparent } = await placeholders(source);
    return { format, width, height, animated, thumbhash, dominantColor, transparent, variants: out };
  } catch (e) {
    await Promise.all(written.map((f) => rm(f, { force: true })));
    throw e;
  }
}

/** ThumbHash, dominant colour and transparency, from one 100 px RGBA sample of the upright image. */
async function placeholders(source: Source): Promise<{ thumbhash: string } & ColourSummary> {
  let small: { data: Buffer; info: OutputInfo };
  try {
    small = await sharp(source.input, source.options)
      .resize({ width: 100, height: 100, fit: 'inside', withoutEnlargement: true })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw decodeError(e);
  }
  const { width, height } = small.info;
  const thumbhash = Buffer.from(rgbaToThumbHash(width, height, small.data)).toString('base64');
  return { thumbhash, ...describeColour(small.data) };
}
