/**
 * PNG text-chunk bombs. libpng (as configured by libvips) caps each ancillary chunk at 50 MB once
 * inflated, but not their number: a 650 KB PNG with 20 zTXt chunks of 32 MiB each took 42 s and 3.3 GB of
 * RSS to develop (measured). Text chunks (tEXt, zTXt, iTXt) never reach the outputs anyway, so when a PNG
 * has any, we copy it without them to a scratch file and decode that. Orientation (eXIf), colour (iCCP,
 * sRGB, gAMA, cHRM) and everything else are kept.
 */
import { open } from 'node:fs/promises';
import { PipelineError } from './errors.ts';

const TEXT_CHUNKS = new Set(['tEXt', 'zTXt', 'iTXt']);
const SIGNATURE_BYTES = 8;

interface Chunk {
  offset: number;
  /** Header + data + CRC */
  size: number;
  type: string;
}

async function listChunks(file: string): Promise<Chunk[]> {
  const fh = await open(file, 'r');
  try {
    const { size: fileSize } = await fh.stat();
    const header = Buffer.alloc(8);
    const chunks: Chunk[] = [];
    for (let offset = SIGNATURE_BYTES; offset + 8 <= fileSize; ) {
      const { bytesRead } = await fh.read(header, 0, 8, offset);
      if (bytesRead < 8) break;
      const length = header.readUInt32BE(0);
      if (length > 0x7fffffff) throw new PipelineError('corrupt_image', 'PNG: invalid chunk length');
      const type = header.toString('latin1', 4, 8);
      chunks.push({ offset, size: 12 + length, type });
      offset += 12 + length;
      if (type === 'IEND') break;
    }
    return chunks;
  } finally {
    await fh.close();
  }
}

/**
 * When `file` (a PNG) has text chunks, writes a copy without them to `scratch` and returns true;
 * otherwise leaves it alone and returns false. Reads chunk headers only, then copies chunk by chunk.
 */
export async function stripPngText(file: string, scratch: string): Promise<boolean> {
  const chunks = await listChunks(file);
  if (!chunks.some((c) => TEXT_CHUNKS.has(c.type))) return false;
  const src = await open(file, 'r');
  try {
    const dst = await open(scratch, 'wx');
    try {
      const buf = Buffer.alloc(1024 * 1024);
      const copy = async (from: number, length: number): Promise<void> => {
        for (let done = 0; done < length; ) {
          const { bytesRead } = await src.read(buf, 0, Math.min(buf.length, length - done), from + done);
          if (bytesRead === 0) return; // truncated: let the decoder report it
          await dst.write(buf, 0, bytesRead);
          done += bytesRead;
        }
      };
      await copy(0, SIGNATURE_BYTES);
      for (const c of chunks) if (!TEXT_CHUNKS.has(c.type)) await copy(c.offset, c.size);
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
  return true;
}
