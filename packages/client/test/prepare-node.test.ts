// Processing in Node (sharp), through the public prepareImage(): what upload() does before sending.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { TESTDATA } from '@darkroom/testdata';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { prepareImage } from '../src/index.ts';
import { prepare } from '../src/prepare.ts';
import { nodeProcessor } from '../src/process-node.ts';

const open = (p: string, type: string) =>
  new File([fs.readFileSync(path.join(TESTDATA, p))], path.basename(p), { type });

describe('prepareImage in Node (sharp)', () => {
  it('applies EXIF orientation, resizes without upscaling, encodes WebP without metadata, hashes what it returns', async () => {
    const { blob, contentType, result } = await prepareImage(
      open('orientation/Landscape_6.jpg', 'image/jpeg'),
    );
    expect(contentType).toBe('image/webp');
    // Stored 450x600 with Orientation 6: upright it is 600x450, and 600 < 2560 stays 600.
    expect(result).toMatchObject({ processed: true, width: 600, height: 450, contentType: 'image/webp' });
    const bytes = Buffer.from(await blob.arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 600, height: 450 });
    expect(meta.exif).toBeUndefined();
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('base64'));
    expect(result.bytes).toBe(bytes.length);
    expect(result.thumbhash).toMatch(/^[A-Za-z0-9+/]+=*$/);
  });

  it('honours maxEdge, format and quality', async () => {
    const { result } = await prepareImage(open('photos/HMD_Nokia_8.3_5G.jpg', 'image/jpeg'), {
      maxEdge: 1000,
      format: 'jpeg',
      quality: 0.7,
    });
    expect(result).toMatchObject({ processed: true, contentType: 'image/jpeg', width: 1000, height: 429 });
  });

  it('keeps the original, and says why, when processing is off, the image is animated, or sharp cannot decode it', async () => {
    const gif = await prepareImage(open('formats/rotating-squares.gif', 'image/gif'));
    expect(gif.result).toMatchObject({
      processed: false,
      keptOriginalReason: 'animated',
      contentType: 'image/gif',
    });
    expect(gif.result.thumbhash).toBeTruthy();
    const off = await prepareImage(open('photos/DSCN0010.jpg', 'image/jpeg'), false);
    expect(off.result).toMatchObject({ processed: false, keptOriginalReason: 'disabled' });
    // sharp's prebuilt libvips has no HEVC decoder: the server decodes iPhone photos instead.
    const heic = await prepareImage(open('orientation/iphone_13_pro_max.HEIC', 'image/heic'));
    expect(heic.result).toMatchObject({
      processed: false,
      keptOriginalReason: 'unsupported',
      contentType: 'image/heic',
    });
    const broken = await prepareImage(open('hostile/truncated.jpg', 'image/jpeg'));
    expect(broken.result.processed).toBe(false);
  });

  it('keeps the original when the processed type is not one the server takes', async () => {
    const jpegOnly = (type: string) => type === 'image/jpeg';
    const out = await prepare(
      open('photos/DSCN0010.jpg', 'image/jpeg'),
      'image/jpeg',
      { maxEdge: 300 },
      await nodeProcessor(),
      jpegOnly,
    );
    expect(out.result).toMatchObject({ processed: false, keptOriginalReason: 'type_not_allowed' });
    expect(out.contentType).toBe('image/jpeg');
  });
});
