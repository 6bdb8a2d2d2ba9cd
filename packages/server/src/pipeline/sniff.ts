/**
 * Content sniffing: what a file IS, from its first bytes, whatever its name or declared type says.
 * Pure functions over a Buffer, no I/O, so they are cheap to test.
 */

/** Formats the pipeline can decode (sharp/libvips, plus libheif-js for HEVC-coded HEIF). */
export type DecodableFormat = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'heif' | 'avif';

/** Recognised but never decoded. SVG in particular is refused outright: rasterising untrusted SVG
 *  means running a full XML + CSS renderer (billion-laughs `<use>` amplification, external references). */
export type RefusedFormat = 'svg' | 'pdf' | 'bmp' | 'ico' | 'psd' | 'jxl' | 'video' | 'html';

export type SniffedFormat = DecodableFormat | RefusedFormat;

export const DECODABLE_FORMATS: readonly DecodableFormat[] = [
  'jpeg',
  'png',
  'gif',
  'webp',
  'tiff',
  'heif',
  'avif',
];

/** How many leading bytes {@link sniffFormat} looks at (callers read this many, or the whole file). */
export const SNIFF_BYTES = 4096;

const HEIF_BRANDS = new Set([
  'heic',
  'heix',
  'hevc',
  'hevx',
  'heim',
  'heis',
  'hevm',
  'hevs',
  'mif1',
  'msf1',
  'mif2',
]);
const AVIF_BRANDS = new Set(['avif', 'avis', 'avio', 'MA1B', 'MA1A']);

function ascii(buf: Buffer, start: number, end: number): string {
  return buf.toString('latin1', start, Math.min(end, buf.length));
}

/** ISO-BMFF `ftyp` brands (major + compatible), or undefined when the file does not start with `ftyp`. */
export function ftypBrands(buf: Buffer): string[] | undefined {
  if (buf.length < 16 || ascii(buf, 4, 8) !== 'ftyp') return undefined;
  const size = buf.readUInt32BE(0);
  const end = Math.min(size >= 16 ? size : 16, buf.length, 4096);
  const brands = [ascii(buf, 8, 12)];
  for (let i = 16; i + 4 <= end; i += 4) brands.push(ascii(buf, i, i + 4));
  return brands;
}

/**
 * Identifies the format from magic numbers. Returns undefined for anything unrecognised (text, audio,
 * archives…). For the HEIF family the answer is a hint ('avif' when an AV1 brand is present); the
 * pipeline settles AV1 vs HEVC from the coded item itself.
 */
export function sniffFormat(buf: Buffer): SniffedFormat | undefined {
  const b = (i: number): number => buf[i] ?? -1;
  if (b(0) === 0xff && b(1) === 0xd8 && b(2) === 0xff) return 'jpeg';
  if (buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  const six = ascii(buf, 0, 6);
  if (six === 'GIF87a' || six === 'GIF89a') return 'gif';
  if (ascii(buf, 0, 4) === 'RIFF' && ascii(buf, 8, 12) === 'WEBP') return 'webp';
  const four = ascii(buf, 0, 4);
  if (four === 'II*\0' || four === 'MM\0*' || four === 'II+\0' || four === 'MM\0+') return 'tiff';
  const brands = ftypBrands(buf);
  if (brands) {
    if (brands.some((x) => AVIF_BRANDS.has(x))) return 'avif';
    if (brands.some((x) => HEIF_BRANDS.has(x))) return 'heif';
    return 'video'; // mp4, mov, 3gp, …
  }
  if (four === '%PDF') return 'pdf';
  if (b(0) === 0x42 && b(1) === 0x4d && buf.length >= 14) return 'bmp';
  if (four === '\0\0\x01\0') return 'ico';
  if (four === '8BPS') return 'psd';
  if ((b(0) === 0xff && b(1) === 0x0a) || ascii(buf, 4, 8) === 'JXL ') return 'jxl';
  // Text formats: skip a UTF-8 BOM and whitespace, then look at the markup.
  const text = buf
    .toString('utf8', 0, Math.min(buf.length, SNIFF_BYTES))
    .replace(/^\uFEFF/, '')
    .trimStart()
    .toLowerCase();
  if (text.startsWith('<')) {
    if (/<svg[\s>/]/.test(text) || text.startsWith('<!doctype svg')) return 'svg';
    if (/^<(!doctype html|html|head|body|script)[\s>]/.test(text)) return 'html';
    if (text.startsWith('<?xml')) return 'svg'; // XML that is not (yet) visibly SVG: refuse it the same way
  }
  return undefined;
}

export interface GifFrame {
  left: number;
  top: number;
  width: number;
  height: number;
}

/**
 * Walks a GIF's block structure over the bytes given (a prefix of the file is fine: it stops at the end
 * of the buffer) and lists the image descriptors. libvips checks the logical screen size against the pixel
 * limit, but a frame may declare itself far larger than the screen (Pillow's decompression_bomb.gif:
 * 32x32 screen, a 65535x1321 frame), which some decoders allocate for: we refuse such declarations early.
 */
export function gifFrames(
  buf: Buffer,
  maxFrames = 10_000,
): { screen: { width: number; height: number }; frames: GifFrame[] } {
  if (buf.length < 13) return { screen: { width: 0, height: 0 }, frames: [] };
  const screen = { width: buf.readUInt16LE(6), height: buf.readUInt16LE(8) };
  const frames: GifFrame[] = [];
  let p = 13;
  const packed = buf[10] ?? 0;
  if (packed & 0x80) p += 3 * 2 ** ((packed & 0x07) + 1);
  const skipSubBlocks = (): void => {
    while (p < buf.length) {
      const len = buf[p] ?? 0;
      p += 1 + len;
      if (len === 0) return;
    }
  };
  while (p < buf.length && frames.length < maxFrames) {
    const tag = buf[p];
    if (tag === 0x21) {
      p += 2; // introducer + label
      skipSubBlocks();
    } else if (tag === 0x2c) {
      if (p + 10 > buf.length) break;
      frames.push({
        left: buf.readUInt16LE(p + 1),
        top: buf.readUInt16LE(p + 3),
        width: buf.readUInt16LE(p + 5),
        height: buf.readUInt16LE(p + 7),
      });
      const fp = buf[p + 9] ?? 0;
      p += 10;
      if (fp & 0x80) p += 3 * 2 ** ((fp & 0x07) + 1);
      p += 1; // LZW minimum code size
      skipSubBlocks();
    } else {
      break; // trailer (0x3b) or garbage
    }
  }
  return { screen, frames };
}
