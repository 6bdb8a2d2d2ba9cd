/// <reference path="./libheif-bundle.d.ts" />
// Image processing with browser APIs only (createImageBitmap, OffscreenCanvas); runs in the Web
// Worker (worker.ts), or on the main thread where module workers are unavailable.
import { rgbaToThumbHash } from 'thumbhash';
import { toBase64 } from './hash.ts';
import type { ProcessorResult, ResolvedProcessOptions } from './prepare.ts';

/** HEIF family brands in the `ftyp` box (HEIC from iPhones, HEIF, AVIF is decoded natively). */
export function isHeif(bytes: Uint8Array): boolean {
  if (bytes.length < 12) return false;
  const box = String.fromCharCode(...bytes.subarray(4, 12));
  return /^ftyp(heic|heix|hevc|hevx|heim|heis|mif1|msf1)$/.test(box);
}

interface HeifImage {
  get_width(): number;
  get_height(): number;
  display(target: { data: Uint8ClampedArray; width: number; height: number }, cb: (d: unknown) => void): void;
}
interface LibHeif {
  HeifDecoder: new () => { decode(bytes: Uint8Array): HeifImage[] };
}

let libheif: Promise<LibHeif> | undefined;

/** libheif-js (WASM, about 2 MB), loaded the first time a HEIC/HEIF needs decoding. */
function loadLibheif(): Promise<LibHeif> {
  libheif ??= import('libheif-js/libheif-wasm/libheif-bundle.mjs').then(
    // The bundle's default export is the Emscripten factory, with the WASM inlined.
    (m) => m.default() as LibHeif | Promise<LibHeif>,
  );
  return libheif;
}

/** Decodes a HEIC/HEIF to a bitmap; libheif applies the irot/imir transforms itself. */
async function decodeHeif(bytes: Uint8Array): Promise<ImageBitmap> {
  const lib = await loadLibheif();
  const [image] = new lib.HeifDecoder().decode(bytes);
  if (!image) throw new Error('HEIF: no image');
  const width = image.get_width();
  const height = image.get_height();
  const data = new ImageData(width, height);
  await new Promise<void>((resolve, reject) =>
    image.display({ data: data.data, width, height }, (d) =>
      d ? resolve() : reject(new Error('HEIF: decode failed')),
    ),
  );
  return createImageBitmap(data);
}

/** Decodes with EXIF orientation applied; HEIC through libheif when the browser cannot. */
export async function decode(blob: Blob): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch (err) {
    const bytes = new Uint8Array(await blob.slice(0, 16).arrayBuffer());
    if (!isHeif(bytes)) throw err;
    return decodeHeif(new Uint8Array(await blob.arrayBuffer()));
  }
}

/** Size that fits in `maxEdge` × `maxEdge` keeping the aspect ratio; never larger than the source. */
export function fitInside(width: number, height: number, maxEdge: number): { width: number; height: number } {
  const scale = Math.min(1, maxEdge / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function draw(
  bitmap: ImageBitmap,
  width: number,
  height: number,
  smoothing: ImageSmoothingQuality = 'high',
): OffscreenCanvas {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('no 2d context');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = smoothing;
  ctx.drawImage(bitmap, 0, 0, width, height);
  return canvas;
}

/** ThumbHash from a ≤100 px render. */
export function thumbhashOf(bitmap: ImageBitmap): string {
  const { width, height } = fitInside(bitmap.width, bitmap.height, 100);
  const canvas = draw(bitmap, width, height);
  const pixels = canvas.getContext('2d')!.getImageData(0, 0, width, height);
  return toBase64(rgbaToThumbHash(width, height, pixels.data));
}

/**
 * Resizes in one step and encodes. WebP when the browser can encode it (convertToBlob falls back to
 * PNG silently when it cannot), else JPEG.
 */
export async function processInBrowser(
  blob: Blob,
  options: ResolvedProcessOptions,
  mode: 'encode' | 'thumbhash',
): Promise<ProcessorResult> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await decode(blob);
  } catch {
    return { reason: 'unsupported' };
  }
  try {
    const source = { width: bitmap.width, height: bitmap.height };
    const thumbhash = thumbhashOf(bitmap);
    if (mode === 'thumbhash') return { ...source, thumbhash };
    const target = fitInside(bitmap.width, bitmap.height, options.maxEdge);
    // One resize from the full decode (halving first and resizing again filtered twice and came out
    // much softer: bench:browser, issue 16.7). Chromium's 'high' smoothing samples a downscale from
    // mipmaps, blending in the half-size level the more the image shrinks: needed from 2× down, where
    // bilinear skips pixels and aliases, but above half size it only softens, and bilinear's 2×2 taps
    // still reach every source pixel. createImageBitmap's resizeQuality gives the same pixels, slower.
    const smoothing = target.width * 2 <= bitmap.width ? 'high' : 'low';
    const canvas = draw(bitmap, target.width, target.height, smoothing);
    const wanted = options.format === 'jpeg' ? 'image/jpeg' : 'image/webp';
    let out = await canvas.convertToBlob({ type: wanted, quality: options.quality });
    if (out.type !== wanted) {
      if (wanted === 'image/jpeg') return { ...source, thumbhash, reason: 'no_encoder' };
      out = await canvas.convertToBlob({ type: 'image/jpeg', quality: options.quality });
      if (out.type !== 'image/jpeg') return { ...source, thumbhash, reason: 'no_encoder' };
    }
    return { ...source, thumbhash, output: { blob: out, contentType: out.type, ...target } };
  } finally {
    bitmap.close();
  }
}
