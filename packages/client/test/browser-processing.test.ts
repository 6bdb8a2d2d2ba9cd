// The SDK's browser processing in headless Chromium (Vite dev server, module Web Worker): EXIF
// orientation applied, resized, WebP, metadata gone, HEIC decoded through libheif-js (WASM), animated
// GIF/WebP kept as they are.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TESTDATA } from '@darkroom/testdata';
import type { Browser, Page } from 'playwright-core';
import sharp, { type Sharp } from 'sharp';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../../server/test/browser/harness.ts';
import type { PrepareResult, ProcessOptions } from '../src/types.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
let vite: ViteDevServer;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  vite = await createServer({
    root: path.join(here, 'browser-page'),
    configFile: false,
    logLevel: 'error',
    server: { port: 0, host: '127.0.0.1', fs: { allow: [path.resolve(here, '../../..'), TESTDATA] } },
    worker: { format: 'es' },
  });
  await vite.listen();
  const address = vite.httpServer!.address() as { port: number };
  browser = await launchChromium();
  page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`http://127.0.0.1:${address.port}/`);
  await page.waitForFunction(() => window.sdkReady === true, undefined, { timeout: 30_000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await vite?.close();
});

async function processInPage(file: string, type: string, options: ProcessOptions | false = {}) {
  const out = (await page.evaluate(([p, name, t, o]) => window.processPath(p, name, t, o), [
    path.join(TESTDATA, file),
    path.basename(file),
    type,
    options,
  ] as const)) as { result: PrepareResult; contentType: string; base64: string };
  return { ...out, bytes: Buffer.from(out.base64, 'base64') };
}

/** Mean absolute 4-neighbour Laplacian of an image's luma: its fine detail (a softer resize scores lower). */
async function detail(image: Sharp): Promise<number> {
  const { data, info } = await image.greyscale().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  let sum = 0;
  for (let r = 1; r < height - 1; r++) {
    for (let c = 1; c < width - 1; c++) {
      const i = r * width + c;
      sum += Math.abs(4 * data[i]! - data[i - 1]! - data[i + 1]! - data[i - width]! - data[i + width]!);
    }
  }
  return sum / ((width - 2) * (height - 2));
}

describe('browser processing (Chromium, Web Worker)', () => {
  it('resizes a large photo to the longest edge as WebP, smaller, without EXIF, with SHA-256 and thumbhash', async () => {
    const file = 'photos/canon-eos-5d-mark-iii_22mp.jpg';
    const { result, bytes } = await processInPage(file, 'image/jpeg');
    expect(result).toMatchObject({ processed: true, contentType: 'image/webp', width: 2560, height: 1707 });
    expect(result.originalBytes).toBe(fs.statSync(path.join(TESTDATA, file)).size);
    expect(result.bytes).toBe(bytes.length);
    expect(result.bytes).toBeLessThan(result.originalBytes);
    const meta = await sharp(bytes).metadata();
    expect(meta).toMatchObject({ format: 'webp', width: 2560, height: 1707 });
    expect(meta.exif).toBeUndefined();
    const { createHash } = await import('node:crypto');
    expect(result.sha256).toBe(createHash('sha256').update(bytes).digest('base64'));
    expect(result.thumbhash).toMatch(/^[A-Za-z0-9+/]+=*$/);
    expect(pageErrors).toEqual([]);
  }, 60_000);

  it('resizes in one step, nearly as sharp as a lanczos3 resize (halving first made it soft)', async () => {
    const file = 'photos/canon-eos-5d-mark-iii_22mp.jpg';
    // High quality, so what is measured is mostly the resize rather than the encoder.
    const { result, bytes } = await processInPage(file, 'image/jpeg', { quality: 0.95 });
    expect(result).toMatchObject({ processed: true, width: 2560, height: 1707 });
    const { width, height } = await sharp(bytes).metadata();
    const reference = sharp(path.join(TESTDATA, file))
      .rotate()
      .resize(width, height, { kernel: 'lanczos3', fit: 'fill' });
    // Halving to 2880 px and then resizing to 2560 kept 0.77 of the reference's detail; one step keeps 0.88.
    expect((await detail(sharp(bytes))) / (await detail(reference))).toBeGreaterThan(0.8);
  }, 60_000);

  it('applies EXIF orientation and strips GPS', async () => {
    // Stored 450x600 with Orientation 6: upright it is a 600x450 landscape.
    const rotated = await processInPage('orientation/Landscape_6.jpg', 'image/jpeg', { maxEdge: 400 });
    expect(rotated.result).toMatchObject({ processed: true, width: 400, height: 300 });
    const gps = await processInPage('photos/oppo-r7-plus_13mp_gps.jpg', 'image/jpeg');
    const meta = await sharp(gps.bytes).metadata();
    expect(meta.exif).toBeUndefined();
    expect(meta).toMatchObject({ width: 1920, height: 2560 });
  }, 60_000);

  it('decodes an iPhone HEIC through libheif-js, upright (irot applied once)', async () => {
    const { result, bytes } = await processInPage('orientation/iphone_13_pro_max.HEIC', 'image/heic');
    expect(result).toMatchObject({ processed: true, contentType: 'image/webp', width: 1920, height: 2560 });
    expect((await sharp(bytes).metadata()).format).toBe('webp');
  }, 120_000);

  it('keeps animated GIF and WebP as they are', async () => {
    for (const [file, type] of [
      ['formats/rotating-squares.gif', 'image/gif'],
      ['formats/rotating-squares.webp', 'image/webp'],
    ] as const) {
      const { result, bytes } = await processInPage(file, type);
      expect(result, file).toMatchObject({
        processed: false,
        keptOriginalReason: 'animated',
        contentType: type,
      });
      expect(Buffer.compare(bytes, fs.readFileSync(path.join(TESTDATA, file)))).toBe(0);
      expect(result.thumbhash).toBeTruthy();
    }
  }, 60_000);

  it('falls back to JPEG where the browser cannot encode WebP', async () => {
    const out = await page.evaluate(
      (p) => window.processWithoutWebp(p),
      path.join(TESTDATA, 'photos/DSCN0010.jpg'),
    );
    expect(out).toEqual({ contentType: 'image/jpeg', type: 'image/jpeg' });
  }, 60_000);

  it('keeps the original when re-encoding would not make it smaller', async () => {
    const { result } = await processInPage('photos/DSCN0010.jpg', 'image/jpeg', { quality: 1 });
    expect(result).toMatchObject({ processed: false, keptOriginalReason: 'not_smaller' });
  }, 60_000);
});
