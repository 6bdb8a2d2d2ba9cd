// Issue 17 point 1 in Chromium: `darkroom start` killed mid-upload puts the card "offline, will resume"
// and the upload carries on by itself once the server is back (same image, only the missing parts); Retry
// resumes the same upload; a file that can never succeed says why and offers no Retry; the bar is green
// at Ready.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noisePng } from '../helpers/photos.ts';
import {
  assertPrerequisites,
  type BrowserStack,
  launchChromium,
  openApp,
  screenshot,
  startDarkroom,
  TESTDATA,
} from './harness.ts';

/** The smallest multipart threshold and part size config.ts allows (S3's own 5 MiB minimum part). */
const PART = 5 * 1024 * 1024;

let stack: BrowserStack;
let browser: Browser;
let context: BrowserContext;
let tmp: string;
let file: string;
/** Another file for the Retry test: the same bytes again would be answered with the stored image. */
let other: string;

beforeAll(async () => {
  assertPrerequisites();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-offline-'));
  // Noise does not compress: a 2000×2000 PNG of it is about 12 MB, three parts.
  file = path.join(tmp, 'noise.png');
  fs.writeFileSync(file, await noisePng(2000, 2000));
  expect(fs.statSync(file).size).toBeGreaterThan(2 * PART);
  other = path.join(tmp, 'noise-2.png');
  await sharp(file).flop().png({ compressionLevel: 1 }).toFile(other);
  stack = await startDarkroom({
    DARKROOM_MULTIPART_THRESHOLD: String(PART),
    DARKROOM_MULTIPART_PART_SIZE: String(PART),
  });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const partOf = (url: string) => Number(new URL(url).searchParams.get('partNumber') ?? 0);

/** Part numbers of every PUT to storage the page starts from now on. */
function countPuts(page: Page): number[] {
  const parts: number[] = [];
  page.on('request', (r) => {
    if (r.url().startsWith(stack.s3Url) && r.method() === 'PUT') parts.push(partOf(r.url()));
  });
  return parts;
}

/** The card's progress bar colour (accent-color) and the theme's green. */
async function barColour(page: Page): Promise<{ bar: string; ok: string }> {
  return page.evaluate(() => {
    const probe = document.createElement('span');
    probe.style.color = 'var(--ok)';
    document.body.append(probe);
    const ok = getComputedStyle(probe).color;
    probe.remove();
    const bar = getComputedStyle(document.querySelector('li.card .card-progress')!).accentColor;
    return { bar, ok };
  });
}

describe('uploads through an outage in the web app', () => {
  it('shows "offline, will resume" while the server is down and resumes the same upload by itself', async () => {
    const { page, errors } = await openApp(context, stack.url);
    const held: Route[] = [];
    let holding = true;
    await page.route(`${stack.s3Url}/**`, async (route) => {
      if (!holding || partOf(route.request().url()) === 1) await route.continue();
      else held.push(route);
    });
    await page.locator('#shrink').uncheck();
    const firstPart = page.waitForResponse((r) => partOf(r.url()) === 1 && r.request().method() === 'PUT', {
      timeout: 30_000,
    });
    await page.setInputFiles('#file-input', [file]);
    expect((await firstPart).status()).toBe(200);
    const card = page.locator('li.card').first();
    const id = (await card.getAttribute('data-image-id'))!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    await expect.poll(() => held.length, { timeout: 10_000 }).toBeGreaterThan(0);

    // The server goes away with parts 2 and 3 on the wire.
    await stack.kill();
    const failedLoads: string[] = [];
    page.on('console', (m) => {
      if (m.type() === 'error') failedLoads.push(m.text());
    });
    holding = false;
    for (const route of held.splice(0)) await route.abort('connectionrefused');
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('offline');
    const status = card.locator('.card-status');
    expect(await status.textContent()).toMatch(/^Offline, will resume/);
    expect(await card.locator('button.card-retry').isHidden()).toBe(true);
    expect(await card.locator('button.card-retry-now').isVisible()).toBe(true);
    expect(await card.getAttribute('class')).not.toContain('is-error');
    await screenshot(page, '30-offline-will-resume');

    const putsAfterRestart = countPuts(page);
    await stack.restart();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    expect(await card.getAttribute('data-image-id')).toBe(id);
    expect(putsAfterRestart.length).toBeGreaterThan(0);
    expect(putsAfterRestart, 'part 1 was stored before the outage').not.toContain(1);
    expect(new Set(putsAfterRestart)).toEqual(new Set([2, 3]));
    const image = await stack.api('GET', `/v1/images/${id}`);
    expect(image.json).toMatchObject({ status: 'ready', bytes: fs.statSync(file).size });
    // One image, not a second intent beside a stale pending one.
    const list = await stack.api('GET', '/v1/images');
    expect((list.json.images as { id: string }[]).map((i) => i.id)).toEqual([id]);

    // Ready is green everywhere: the status and the bar.
    expect(await card.getAttribute('data-progress')).toBe('100');
    const { bar, ok } = await barColour(page);
    expect(bar).toBe(ok);
    await screenshot(page, '31-resumed-after-outage');
    console.log(`console errors while offline (failed loads of probes and retries): ${failedLoads.length}`);
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);

  it('Retry resumes the same upload after a failure, sending only the parts storage lacks', async () => {
    const { page, errors } = await openApp(context, stack.url);
    let refused = false;
    await page.route(`${stack.s3Url}/**`, async (route) => {
      // Storage refuses part 2 once (not an outage: the card fails and offers Retry).
      if (!refused && partOf(route.request().url()) === 2) {
        refused = true;
        await route.fulfill({
          status: 403,
          contentType: 'application/xml',
          headers: { 'access-control-allow-origin': stack.url, 'access-control-expose-headers': 'ETag' },
          body: '<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>',
        });
      } else await route.continue();
    });
    await page.locator('#shrink').uncheck();
    await page.setInputFiles('#file-input', [other]);
    const card = page.locator('li.card').first();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('failed');
    const id = (await card.getAttribute('data-image-id'))!;
    const retry = card.locator('button.card-retry');
    expect(await retry.isVisible()).toBe(true);
    const before = (await stack.api('GET', `/v1/uploads/${id}/parts`)).json as {
      parts: { partNumber: number }[];
    };
    const stored = before.parts.map((p) => p.partNumber);
    expect(stored).not.toContain(2);

    const puts = countPuts(page);
    await retry.click();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    expect(await card.getAttribute('data-image-id')).toBe(id);
    expect(puts).toContain(2);
    for (const n of stored) expect(puts, `part ${n} was already stored`).not.toContain(n);
    expect((await stack.api('GET', `/v1/images/${id}`)).json.status).toBe('ready');
    // The numbers say what this attempt found already stored.
    expect(await card.locator('.card-numbers').textContent()).toMatch(/\(100 %, .* already stored\)$/);
    await screenshot(page, '32-retry-resumed');
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it('offers no Retry for a file that can never succeed, and says why', async () => {
    const { page, errors } = await openApp(context, stack.url);
    await page.locator('#shrink').uncheck();
    await page.setInputFiles('#file-input', [path.join(TESTDATA, 'hostile/not-an-image.jpg')]);
    const card = page.locator('li.card').first();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('failed');
    // The worker finds it is no image at all (unsupported_type) or a broken one (corrupt_image).
    expect(await card.getAttribute('data-error-code')).toMatch(/^(unsupported_type|corrupt_image)$/);
    expect(await card.locator('button.card-retry').isHidden()).toBe(true);
    expect(await card.locator('button.card-dismiss').isVisible()).toBe(true);
    const status = (await card.locator('.card-status').textContent()) ?? '';
    expect(status).toMatch(/^Cannot be uploaded: \S/);
    await screenshot(page, '33-failed-with-reason');
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);
});
