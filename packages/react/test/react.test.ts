// @darkroom/react in headless Chromium against `darkroom start`: a React page (Vite dev server, the
// package from source) uploads a real photo through useUpload() to ready, then <DarkroomImage> shows it
// with srcset from its variants, the thumbhash placeholder until the variant arrives, and a box that does
// not change size when it does. A multipart upload whose parts fail is retried by the hook, continuing
// the same upload.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { ImageJson } from '@darkroom/client';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertPrerequisites,
  type BrowserStack,
  launchChromium,
  REPO,
  startDarkroom,
  TESTDATA,
} from '../../server/test/browser/harness.ts';
import { noisePng } from '../../server/test/helpers/photos.ts';
import { freePort } from '../../server/test/helpers/process.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The smallest multipart threshold and part size config.ts allows (S3's own 5 MiB minimum part). */
const PART = 5 * 1024 * 1024;
const PHOTO = path.join(TESTDATA, 'photos/2569067123_aca715a2ee_o.jpg');
// The cancel test's photo is another one: the same bytes again would be answered with the first image.
const OTHER_PHOTO = path.join(TESTDATA, 'photos/DSCN0010.jpg');

let stack: BrowserStack;
let vite: ViteDevServer;
let viteUrl: string;
let browser: Browser;
let context: BrowserContext;
let tmp: string;

beforeAll(async () => {
  assertPrerequisites();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-react-'));
  const port = await freePort();
  viteUrl = `http://127.0.0.1:${port}`;
  vite = await createServer({
    root: path.join(here, 'browser-page'),
    configFile: false,
    cacheDir: path.join(tmp, 'vite-cache'),
    logLevel: 'error',
    server: { port, strictPort: true, host: '127.0.0.1', fs: { allow: [REPO, TESTDATA, tmp] } },
    // Pre-bundled at start, so the first page load is not reloaded by a late dependency scan.
    optimizeDeps: { include: ['react', 'react-dom/client'] },
  });
  await vite.listen();
  // The page's origin uploads straight to storage and calls the API: both must allow it.
  stack = await startDarkroom({
    DARKROOM_CORS_ORIGINS: viteUrl,
    DARKROOM_MULTIPART_THRESHOLD: String(PART),
    DARKROOM_MULTIPART_PART_SIZE: String(PART),
    // The defaults plus a variant stored only as AVIF: it goes into a <picture>'s <source>.
    DARKROOM_VARIANTS: 'thumb:320,medium:1280,large:2560,small:480:avif',
  });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
}, 90_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await vite?.close();
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function openPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) errors.push(msg.text());
  });
  const query = new URLSearchParams({ endpoint: stack.url, token: await stack.token() });
  await page.goto(`${viteUrl}/?${query}`);
  await page.waitForFunction(() => window.reactReady === true, undefined, { timeout: 30_000 });
  return { page, errors };
}

/** The image with `?tag` on every variant URL: new URLs for the browser's cache, the same objects. */
function withQuery(image: ImageJson, tag: string): ImageJson {
  const variants = Object.fromEntries(
    Object.entries(image.variants).map(([name, v]) => [name, { ...v, url: `${v.url}?${tag}` }]),
  );
  return { ...image, variants };
}

const upload = (page: Page) => page.locator('output#upload');

describe('@darkroom/react in Chromium', () => {
  it('useUpload sends a photo to ready; <DarkroomImage> shows it with srcset, placeholder first, no layout shift', async () => {
    const { page, errors } = await openPage();
    // Variants are held at the network edge until the placeholder has been seen.
    const held: Route[] = [];
    let holding = true;
    await page.route(`${stack.url}/img/**`, async (route) => {
      if (holding) held.push(route);
      else await route.continue();
    });
    await page.evaluate(([p]) => window.uploadPath(p!, 'heron.jpg', 'image/jpeg'), [PHOTO]);
    await expect.poll(() => upload(page).getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    const out = upload(page);
    const id = (await out.getAttribute('data-image-id'))!;
    const size = fs.statSync(PHOTO).size;
    expect(await out.getAttribute('data-status')).toBe('ready');
    expect(Number(await out.getAttribute('data-sent'))).toBe(size);
    expect(Number(await out.getAttribute('data-total'))).toBe(size);
    const states = await page.evaluate(() => window.states);
    expect(states[0]).toBe('idle');
    expect(states).toContain('uploading');
    expect(states.at(-1)).toBe('ready');
    const image = (await stack.api('GET', `/v1/images/${id}`)).json as unknown as ImageJson;
    expect(Object.keys(image.variants).sort()).toEqual(['large', 'medium', 'small', 'thumb']);
    const candidates = (names: string[]) =>
      names.map((n) => `${image.variants[n]!.url} ${image.variants[n]!.width}w`).join(', ');

    const img = page.locator('img.by-image');
    await img.waitFor();
    expect(await img.getAttribute('data-state')).toBe('placeholder');
    // The WebP variants in the <img>; the AVIF one joins them in the <source> for browsers that take it.
    const expectedSrcset = candidates(['thumb', 'medium', 'large']);
    expect(await img.getAttribute('srcset')).toBe(expectedSrcset);
    const source = page.locator('picture:has(img.by-image) > source');
    expect(await source.getAttribute('type')).toBe('image/avif');
    expect(await source.getAttribute('srcset')).toBe(candidates(['thumb', 'small', 'medium', 'large']));
    expect(await source.getAttribute('sizes')).toBe('400px');
    expect(await img.getAttribute('sizes')).toBe('400px');
    expect(await img.getAttribute('alt')).toBe('Uploaded photo');
    expect(Number(await img.getAttribute('width'))).toBe(image.width);
    expect(Number(await img.getAttribute('height'))).toBe(image.height);
    const before = await img.evaluate((el) => {
      const box = el.getBoundingClientRect();
      return { width: box.width, height: box.height, background: getComputedStyle(el).backgroundImage };
    });
    expect(before.background).toMatch(/^url\("data:image\/png;base64,/);
    expect(before.width).toBe(400);
    expect(before.height).toBeCloseTo((400 * image.height!) / image.width!, 1);
    const belowBefore = await page.locator('#below').boundingBox();
    expect(held.length, 'the browser asked for a variant').toBeGreaterThan(0);

    holding = false;
    for (const route of held.splice(0)) await route.continue();
    await expect.poll(() => img.getAttribute('data-state'), { timeout: 20_000 }).toBe('loaded');
    const after = await img.evaluate((el) => {
      const box = el.getBoundingClientRect();
      const i = el as HTMLImageElement;
      return {
        width: box.width,
        height: box.height,
        background: getComputedStyle(el).backgroundImage,
        currentSrc: i.currentSrc,
        naturalWidth: i.naturalWidth,
      };
    });
    expect({ width: after.width, height: after.height }).toEqual({
      width: before.width,
      height: before.height,
    });
    expect(await page.locator('#below').boundingBox()).toEqual(belowBefore);
    expect(after.background).toBe('none');
    expect(Object.values(image.variants).map((v) => v.url)).toContain(after.currentSrc);
    expect(after.naturalWidth).toBeGreaterThan(0);
    expect(await page.evaluate(() => window.layoutShift)).toBe(0);

    // <DarkroomImage id> fetches the image through the provider's API client.
    const byId = page.locator('img.by-id');
    await byId.waitFor({ timeout: 20_000 });
    expect(await byId.getAttribute('srcset')).toBe(expectedSrcset);
    expect(await byId.getAttribute('sizes')).toBe('200px');
    await expect.poll(() => byId.getAttribute('data-state'), { timeout: 20_000 }).toBe('loaded');
    expect((await byId.boundingBox())?.width).toBe(200);

    // The SDK's framework-free pictureHtml(): the same attributes, the same stable box.
    holding = true;
    // A fresh cache key: the React images above already loaded these URLs.
    await page.evaluate((img) => window.renderPlain(img), withQuery(image, 'plain'));
    const plain = page.locator('img.plain');
    expect(await plain.getAttribute('srcset')).toBe(
      ['thumb', 'medium', 'large']
        .map((n) => `${image.variants[n]!.url}?plain ${image.variants[n]!.width}w`)
        .join(', '),
    );
    expect(await page.locator('#plain picture > source').getAttribute('type')).toBe('image/avif');
    expect(await plain.getAttribute('alt')).toBe('Plain HTML');
    const plainBefore = await plain.evaluate((el) => {
      const box = el.getBoundingClientRect();
      return { width: box.width, height: box.height, background: getComputedStyle(el).backgroundImage };
    });
    expect(plainBefore.width).toBe(300);
    expect(plainBefore.height).toBeCloseTo((300 * image.height!) / image.width!, 1);
    expect(plainBefore.background).toMatch(/^url\("data:image\/png;base64,/);
    const belowPlain = await page.locator('#below-plain').boundingBox();
    await expect.poll(() => held.length, { timeout: 10_000 }).toBeGreaterThan(0);
    holding = false;
    for (const route of held.splice(0)) await route.continue();
    await expect.poll(() => plain.getAttribute('data-state'), { timeout: 20_000 }).toBe('loaded');
    const plainAfter = await plain.boundingBox();
    expect({ width: plainAfter?.width, height: plainAfter?.height }).toEqual({
      width: plainBefore.width,
      height: plainBefore.height,
    });
    expect(await page.locator('#below-plain').boundingBox()).toEqual(belowPlain);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('cancel() stops an upload and removes its intent; retry() after it starts over; a corrupt file cannot be retried', async () => {
    const { page, errors } = await openPage();
    let holding = true;
    const held: Route[] = [];
    await page.route(`${stack.s3Url}/**`, async (route) => {
      if (holding && route.request().method() === 'PUT') held.push(route);
      else await route.continue();
    });
    await page.evaluate(([p]) => window.uploadPath(p!, 'DSCN0010.jpg', 'image/jpeg'), [OTHER_PHOTO]);
    await expect.poll(() => held.length, { timeout: 30_000 }).toBeGreaterThan(0);
    const out = upload(page);
    expect(await out.getAttribute('data-state')).toBe('uploading');
    const cancelled = (await out.getAttribute('data-image-id'))!;
    await page.evaluate(() => window.cancelUpload());
    await expect.poll(() => out.getAttribute('data-state')).toBe('cancelled');
    expect(await out.getAttribute('data-error')).toBe('cancelled');
    expect(await out.getAttribute('data-can-retry')).toBe('true');
    expect((await stack.api('GET', `/v1/images/${cancelled}`)).status).toBe(404);
    for (const route of held.splice(0)) await route.abort().catch(() => {});

    holding = false;
    await page.evaluate(() => window.retryUpload());
    await expect.poll(() => out.getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    expect(await out.getAttribute('data-image-id')).not.toBe(cancelled);

    await page.evaluate(
      ([p]) => window.uploadPath(p!, 'not-an-image.jpg', 'image/jpeg'),
      [path.join(TESTDATA, 'hostile/not-an-image.jpg')],
    );
    await expect.poll(() => out.getAttribute('data-state'), { timeout: 60_000 }).toBe('failed');
    expect(['corrupt_image', 'unsupported_type']).toContain(await out.getAttribute('data-error'));
    expect(await out.getAttribute('data-can-retry')).toBe('false');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('retry() continues a failed multipart upload: only the parts storage lacks are sent, same image', async () => {
    // Noise does not compress: a 2000×2000 PNG of it is about 12 MB, three parts.
    const file = path.join(tmp, 'noise.png');
    fs.writeFileSync(file, await noisePng(2000, 2000));
    expect(fs.statSync(file).size).toBeGreaterThan(2 * PART);
    const { page, errors } = await openPage();
    const partOf = (url: string) => Number(new URL(url).searchParams.get('partNumber') ?? 0);
    const sent: number[] = [];
    let failing = true;
    await page.route(`${stack.s3Url}/**`, async (route) => {
      const part = partOf(route.request().url());
      if (route.request().method() === 'PUT') sent.push(part);
      // Part 1 lands; the others fail as a dropped connection would, while `failing`.
      if (failing && part > 1) await route.abort('connectionreset');
      else await route.continue();
    });
    await page.evaluate(([p]) => window.uploadPath(p!, 'noise.png', 'image/png'), [file]);
    await expect.poll(() => upload(page).getAttribute('data-state'), { timeout: 60_000 }).toBe('failed');
    const out = upload(page);
    const id = (await out.getAttribute('data-image-id'))!;
    expect(await out.getAttribute('data-error')).toBe('network_error');
    expect(await out.getAttribute('data-can-retry')).toBe('true');
    expect(sent).toContain(1);

    failing = false;
    sent.length = 0;
    await page.evaluate(() => window.retryUpload());
    await expect.poll(() => upload(page).getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    expect(await out.getAttribute('data-image-id')).toBe(id);
    expect(sent, 'part 1 was not sent again').not.toContain(1);
    expect(new Set(sent)).toEqual(new Set([2, 3]));
    expect(Number(await out.getAttribute('data-sent'))).toBe(fs.statSync(file).size);

    const stored = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: `uploads/${id}` }));
    const body = Buffer.from(await stored.Body!.transformToByteArray());
    const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
    expect(sha(body)).toBe(sha(fs.readFileSync(file)));
    // One image: the retry made no second intent.
    const list = (await stack.api('GET', '/v1/images')).json as { images: { id: string; status: string }[] };
    expect(list.images.filter((i) => i.id === id)).toHaveLength(1);
    expect(list.images.filter((i) => i.status === 'ready')).toHaveLength(3);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);
});
