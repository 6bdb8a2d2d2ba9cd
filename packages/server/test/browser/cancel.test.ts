// Cancelling in the web app: a throttled upload cancelled mid-transfer leaves nothing behind (no record, no
// object, no gallery tile) and can be retried; a tab closed mid-upload leaves a pending intent that the
// janitor (the worker's sweeper) removes after DARKROOM_PENDING_TTL_SECONDS.
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertPrerequisites,
  type BrowserStack,
  eventually,
  launchChromium,
  objectExists,
  openApp,
  screenshot,
  startDarkroom,
  TESTDATA,
} from './harness.ts';

const BIG = path.join(TESTDATA, 'photos/canon-eos-5d-mark-iii_22mp.jpg');
// Another photo for the closed tab: the first test's bytes, once ready, would be answered with that image.
const OTHER_BIG = path.join(TESTDATA, 'photos/HMD_Nokia_8.3_5G.jpg');
/** The shortest pending TTL config.ts allows; presigned URLs must expire before it. */
const PENDING_TTL_SECONDS = 60;

let stack: BrowserStack;
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  assertPrerequisites();
  stack = await startDarkroom({
    DARKROOM_PENDING_TTL_SECONDS: String(PENDING_TTL_SECONDS),
    DARKROOM_PRESIGN_TTL_SECONDS: '30',
    DARKROOM_SWEEP_INTERVAL_SECONDS: '1',
    // The sweeper's reports are printed when the janitor test fails.
    DARKROOM_LOG_LEVEL: 'info',
  });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
});

/** Slows this page's uploads to `bytesPerSecond` (Chromium's network emulation; -1 lifts it). */
async function throttleUploads(page: Page, bytesPerSecond: number): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

/** Picks the large photo, sent as is (no shrinking), and waits until part of it is on the wire. */
async function startSlowUpload(page: Page): Promise<{ id: string; progress: number }> {
  await page.locator('#shrink').uncheck();
  await page.setInputFiles('#file-input', [BIG]);
  const card = page.locator('li.card').first();
  await expect
    .poll(async () => Number((await card.getAttribute('data-progress')) ?? 0), { timeout: 30_000 })
    .toBeGreaterThanOrEqual(5);
  const progress = Number(await card.getAttribute('data-progress'));
  expect(progress, 'still uploading when we act').toBeLessThan(90);
  return { id: (await card.getAttribute('data-image-id'))!, progress };
}

describe('cancel in the web app', () => {
  it('cancels a throttled upload mid-transfer: nothing pending, no object, no tile; Retry then completes it', async () => {
    const { page, errors } = await openApp(context, stack.url);
    await throttleUploads(page, 256 * 1024);
    const { id } = await startSlowUpload(page);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await stack.api('GET', `/v1/images/${id}`)).json.status).toBe('pending');

    await page.locator('li.card .card-cancel').click();
    const card = page.locator('li.card').first();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 15_000 }).toBe('cancelled');
    expect(await card.locator('.card-status').textContent()).toContain('Cancelled');
    expect(await card.locator('.card-retry').isVisible()).toBe(true);
    await screenshot(page, '10-cancelled');

    expect((await stack.api('GET', `/v1/images/${id}`)).status).toBe(404);
    const list = (await stack.api('GET', '/v1/images?limit=100')).json.images as { status: string }[];
    expect(list.filter((i) => i.status === 'pending')).toEqual([]);
    expect(await objectExists(stack, `uploads/${id}`)).toBe(false);
    await expect.poll(() => page.locator(`li.tile[data-image-id="${id}"]`).count()).toBe(0);

    // Retry on the same card, at full speed this time.
    await throttleUploads(page, -1);
    await card.locator('.card-retry').click();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    const retried = (await card.getAttribute('data-image-id'))!;
    expect(retried).not.toBe(id);
    expect((await stack.api('GET', `/v1/images/${retried}`)).json.status).toBe('ready');
    expect(errors).toEqual([]);
    await page.close();
  }, 90_000);

  it('a tab closed mid-upload leaves a pending intent that the janitor removes', async () => {
    const { page } = await openApp(context, stack.url);
    // No byte may reach storage before the tab dies. A throttled PUT finished in the background after
    // close, and a request held or answered by a Playwright route still reached storage in full CI runs
    // (the image turned ready, its original stored), so storage is blocked in Chromium's network stack
    // itself (CDP Network.setBlockedURLs): the SDK's PUT fails, it waits to retry, and the tab dies.
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setBlockedURLs', { urls: [`${stack.s3Url}/*`] });
    const started = Date.now();
    await page.locator('#shrink').uncheck();
    await page.setInputFiles('#file-input', [OTHER_BIG]);
    const card = page.locator('li.card').first();
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 30_000 }).toBe('uploading');
    const id = (await card.getAttribute('data-image-id'))!;
    // Proof the block holds: unblocked, 2.2 MB over loopback would be stored well within this pause.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await objectExists(stack, `uploads/${id}`)).toBe(false);
    await page.close();
    expect((await stack.api('GET', `/v1/images/${id}`)).json.status).toBe('pending');
    expect(await objectExists(stack, `uploads/${id}`)).toBe(false);
    await eventually(
      'the sweeper to remove the abandoned intent',
      async () => {
        const res = await stack.api('GET', `/v1/images/${id}`);
        if (res.status === 404) return true;
        // Says what the image became instead, should it never go.
        throw new Error(
          `still ${res.status} ${JSON.stringify(res.json).slice(0, 300)}; original in storage: ${await objectExists(stack, `uploads/${id}`)}`,
        );
      },
      (PENDING_TTL_SECONDS + 30) * 1000,
      1000,
    ).catch((err: unknown) => {
      console.log(stack.darkroom.output().slice(-12000));
      throw err;
    });
    expect(Date.now() - started, 'not before the pending TTL').toBeGreaterThanOrEqual(
      PENDING_TTL_SECONDS * 1000 - 2000,
    );
    const list = (await stack.api('GET', '/v1/images?limit=100')).json.images as { status: string }[];
    expect(list.filter((i) => i.status === 'pending')).toEqual([]);
    expect(await objectExists(stack, `uploads/${id}`)).toBe(false);
  }, 110_000);
});
