/**
 * Animation detection from container headers, so animated GIF/WebP (and APNG) are sent as they are:
 * re-encoding through a canvas would keep only the first frame.
 */

/** True when the bytes are an animated GIF (two or more image descriptors), WebP (ANIM/ANMF) or APNG (acTL). */
export function isAnimated(bytes: Uint8Array): boolean {
  return isAnimatedGif(bytes) || isAnimatedWebp(bytes) || isApng(bytes);
}

function ascii(bytes: Uint8Array, at: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}

/** Walks the GIF blocks and counts image descriptors; stops at the second. */
export function isAnimatedGif(b: Uint8Array): boolean {
  if (b.length < 13 || !/^GIF8[79]a$/.test(ascii(b, 0, 6))) return false;
  let p = 13;
  const flags = b[10]!;
  if (flags & 0x80) p += 3 * 2 ** ((flags & 0x07) + 1); // global colour table
  let frames = 0;
  const skipSubBlocks = () => {
    while (p < b.length) {
      const size = b[p++]!;
      if (size === 0) return;
      p += size;
    }
  };
  while (p < b.length) {
    const block = b[p++];
    if (block === 0x3b) break; // trailer
    if (block === 0x21) {
      p++; // extension label
      skipSubBlocks();
    } else if (block === 0x2c) {
      if (++frames > 1) return true;
      if (p + 9 > b.length) break;
      const local = b[p + 8]!;
      p += 9;
      if (local & 0x80) p += 3 * 2 ** ((local & 0x07) + 1);
      p++; // LZW minimum code size
      skipSubBlocks();
    } else {
      break; // corrupt: not our business here
    }
  }
  return false;
}

/** A RIFF/WEBP file with the VP8X animation flag, or with ANIM/ANMF chunks. */
export function isAnimatedWebp(b: Uint8Array): boolean {
  if (b.length < 21 || ascii(b, 0, 4) !== 'RIFF' || ascii(b, 8, 4) !== 'WEBP') return false;
  let p = 12;
  while (p + 8 <= b.length) {
    const type = ascii(b, p, 4);
    const size = (b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24)) >>> 0;
    if (type === 'VP8X' && (b[p + 8]! & 0x02) !== 0) return true;
    if (type === 'ANIM' || type === 'ANMF') return true;
    p += 8 + size + (size & 1);
  }
  return false;
}

/** A PNG whose acTL chunk precedes IDAT (APNG). */
export function isApng(b: Uint8Array): boolean {
  if (b.length < 16 || b[0] !== 0x89 || ascii(b, 1, 3) !== 'PNG') return false;
  let p = 8;
  while (p + 8 <= b.length) {
    const length = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0;
    const type = ascii(b, p + 4, 4);
    if (type === 'acTL') return true;
    if (type === 'IDAT' || type === 'IEND') return false;
    p += 12 + length;
  }
  return false;
}
