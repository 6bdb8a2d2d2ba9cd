import { crc32, deflateSync } from 'node:zlib';
import { xorshift } from '@darkroom/testdata';
import sharp from 'sharp';

// Hostile images built from bytes, so the suite does not depend on finding them in the wild.

/** One PNG chunk: length, type, data, CRC. */
function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A few hundred bytes of PNG whose header declares width × height greyscale pixels (a decompression bomb). */
export function pngBomb(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale, deflate, no filter, no interlace
  // The first few rows of zeros, compressed: a decoder that trusts the header would allocate the rest.
  const idat = deflateSync(Buffer.alloc(Math.min(width + 1, 1 << 20) * 4), { level: 9 });
  return Buffer.concat([
    PNG_MAGIC,
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', idat),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A real JPEG whose SOF marker is rewritten to declare width × height (the scan data stays tiny). */
export function jpegBomb(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (let i = 2; i + 9 < out.length; ) {
    if (out[i] !== 0xff) throw new Error(`no marker at ${i}`);
    const marker = out[i + 1]!;
    const len = out.readUInt16BE(i + 2);
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      return out;
    }
    i += 2 + len;
  }
  throw new Error('no SOF marker');
}

/** The JPEG with `totalBytes` of APPn segments (an EXIF APP1 first, then APP2..APP15 filler) after SOI. */
export function jpegWithHugeMetadata(jpeg: Buffer, totalBytes: number): Buffer {
  const segments: Buffer[] = [];
  const segment = (marker: number, payload: Buffer) => {
    const head = Buffer.from([0xff, marker, 0, 0]);
    head.writeUInt16BE(payload.length + 2, 2);
    segments.push(head, payload);
  };
  // A minimal little-endian TIFF with one IFD entry (ImageDescription) padded out to a full segment.
  const tiff = Buffer.alloc(65_000, 0x41);
  tiff.write('II*\0', 0, 'latin1');
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(1, 8);
  tiff.writeUInt16LE(0x010e, 10); // ImageDescription
  tiff.writeUInt16LE(2, 12); // ASCII
  tiff.writeUInt32LE(64_000, 14);
  tiff.writeUInt32LE(26, 18);
  tiff.writeUInt32LE(0, 22);
  segment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]));
  let size = 65_010;
  for (let n = 0; size < totalBytes; n++) {
    const payload = Buffer.alloc(65_000, 0x30 + (n % 40));
    segment(0xe2 + (n % 14), payload);
    size += payload.length + 4;
  }
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

/** A stored (uncompressed) ZIP holding one file, appended to `image`: readable as both. */
export function withZipAppended(image: Buffer, name: string, content: Buffer): Buffer {
  const fname = Buffer.from(name, 'latin1');
  const crc = crc32(content);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(content.length, 18);
  local.writeUInt32LE(content.length, 22);
  local.writeUInt16LE(fname.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(content.length, 20);
  central.writeUInt32LE(content.length, 24);
  central.writeUInt16LE(fname.length, 28);
  central.writeUInt32LE(image.length, 42); // local header offset, counted from the start of the file
  const localBlock = Buffer.concat([local, fname, content]);
  const centralBlock = Buffer.concat([central, fname]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(centralBlock.length, 12);
  end.writeUInt32LE(image.length + localBlock.length, 16);
  return Buffer.concat([image, localBlock, centralBlock, end]);
}

/**
 * The classic GIF/JavaScript polyglot: the logical screen width bytes are `/*`, so the file starts a JS
 * comment that the trailer closes before `alert(…)`; it is also a valid 1×1-frame GIF.
 */
export function gifJsPolyglot(): Buffer {
  return Buffer.concat([
    Buffer.from('GIF89a/*', 'latin1'), // width 0x2a2f = 10799
    Buffer.from([0x0a, 0x00, 0x00, 0x00, 0x00]), // height 10, no global colour table
    Buffer.from([0x2c, 0, 0, 0, 0, 1, 0, 1, 0, 0x80]), // image descriptor 1×1 with a local colour table
    Buffer.from([0, 0, 0, 0xff, 0xff, 0xff]),
    Buffer.from([0x02, 0x02, 0x44, 0x01, 0x00]), // LZW min code 2, one sub-block
    Buffer.from(';*/=1;alert(document.domain);//', 'latin1'),
  ]);
}

/** An SVG that runs script when opened in a browser. */
export const SCRIPT_SVG = Buffer.from(
  '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100" onload="alert(1)">' +
    '<script>fetch("/v1/images",{credentials:"include"})</script><rect width="100" height="100"/></svg>\n',
);

/** Deterministic pseudo-random bytes (xorshift), so a failing case reproduces. */
export function garbage(size: number, seed = 7): Buffer {
  return xorshift(seed).bytes(size);
}

/** A width × height grey PNG (for extreme aspect ratios). */
export async function plainPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#808080' } })
    .png()
    .toBuffer();
}
