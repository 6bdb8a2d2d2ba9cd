// The gallery and its surroundings in Chromium (issue 17 points 7 and 9): justified rows (one height per
// row, a panorama a wide tile and not a strip), file names on tiles, a failed tile's reason, Delete in view
// at 1280×860, dates in the browser's language, phone wording, sign-out, "Clear finished", and the shrink
// option explained and remembered.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertPrerequisites,
  type BrowserStack,
  eventually,
  launchChromium,
  openApp,
  SCREENSHOTS,
  screenshot,
  startDarkroom,
  TESTDATA,
} from './harness.ts';

let stack: BrowserStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: string[];
/** filename → image id of the images put through the API before the page opened. */
const ids = new Map<string, string>();

/** Creates an image through the API (intent + PUT), as a script would; resolves once its status is final. */
async function putImage(filename: string, contentType: string, body: Buffer): Promise<string> {
  const res = await fetch(`${stack.url}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await stack.token()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ filename, contentType, size: body.length }),
  });
  expect(res.status).toBe(201);
  const intent = (await res.json()) as {
    image: { id: string };
    upload: { url: string; headers: Record<string, string> };
  };
  const put = await fetch(intent.upload.url, {
    method: 'PUT',
    headers: intent.upload.headers,
    body: new Uint8Array(body),
  });
  expect(put.status).toBe(200);
  await eventually(
    `${filename} developed`,
    async () => {
      const { json } = await stack.api('GET', `/v1/images/${intent.image.id}`);
      return json.status === 'ready' || json.status === 'failed' ? json.status : undefined;
    },
    60_000,
  );
  return intent.image.id;
}

/** A plain gradient image of this size, as JPEG. */
function picture(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 90, g: 140, b: 200 } } })
    .jpeg({ quality: 80 })
    .toBuffer();
}

beforeAll(async () => {
  assertPrerequisites();
  stack = await startDarkroom();
  browser = await launchChromium();
  // Oldest first: the gallery shows newest first.
  const images: [string, string, Buffer][] = [
    ['landscape.jpg', 'image/jpeg', await picture(1200, 800)],
    ['portrait.jpg', 'image/jpeg', await picture(600, 900)],
    ['panorama.jpg', 'image/jpeg', await picture(4000, 500)],
    ['square.jpg', 'image/jpeg', await picture(800, 800)],
    ['blackbug.png', 'image/png', fs.readFileSync(path.join(TESTDATA, 'formats/blackbug.png'))],
    ['wide.jpg', 'image/jpeg', await picture(1600, 900)],
    ['not-an-image.jpg', 'image/jpeg', fs.readFileSync(path.join(TESTDATA, 'hostile/not-an-image.jpg'))],
  ];
  for (const [name, type, body] of images) ids.set(name, await putImage(name, type, body));
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  ({ page, errors: pageErrors } = await openApp(context, stack.url));
  await eventually('every developed image shown', async () =>
    (await page.locator('li.tile .frame[data-state="loaded"]').count()) === images.length - 1
      ? true
      : undefined,
  );
}, 180_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
});

/** Each tile's frame box, in page order. */
async function frames(p: Page) {
  return p.$$eval('li.tile', (tiles) =>
    tiles.map((t) => {
      const r = t.querySelector('.frame')!.getBoundingClientRect();
      return {
        id: (t as HTMLElement).dataset.imageId!,
        top: r.top,
        left: r.left,
        width: r.width,
        height: r.height,
      };
    }),
  );
}

describe('gallery', () => {
  it('lays tiles out in justified rows: one height per row, full rows, a panorama a wide tile', async () => {
    const boxes = await frames(page);
    expect(boxes).toHaveLength(ids.size);
    const rows = new Map<number, typeof boxes>();
    for (const b of boxes) {
      const row = [...rows.keys()].find((top) => Math.abs(top - b.top) < 2) ?? b.top;
      rows.set(row, [...(rows.get(row) ?? []), b]);
    }
    expect(rows.size, 'more than one row at 1280 px').toBeGreaterThan(1);
    const grid = await page.locator('#grid').boundingBox();
    const all = [...rows.values()];
    for (const [i, row] of all.entries()) {
      const heights = row.map((b) => b.height);
      expect(Math.max(...heights) - Math.min(...heights), `row ${i} heights ${heights}`).toBeLessThan(1.5);
      const right = Math.max(...row.map((b) => b.left + b.width));
      // Every row but the last reaches the grid's right edge (no ragged rows).
      if (i < all.length - 1) expect(Math.abs(right - (grid!.x + grid!.width))).toBeLessThan(1.5);
    }
    // The 8:1 panorama: a wide tile as tall as its row, not a thin strip in a column.
    const pano = boxes.find((b) => b.id === ids.get('panorama.jpg'))!;
    const portrait = boxes.find((b) => b.id === ids.get('portrait.jpg'))!;
    expect(pano.height).toBeGreaterThanOrEqual(120);
    expect(pano.width).toBeGreaterThanOrEqual(2.5 * pano.height);
    expect(portrait.width).toBeLessThan(portrait.height);
  });

  it('names every tile, and a failed tile says why in the API’s words', async () => {
    const names = await page.$$eval('li.tile .tile-name', (els) => els.map((e) => e.textContent));
    expect(new Set(names)).toEqual(new Set(ids.keys()));
    for (const el of await page.locator('li.tile .tile-name').all()) expect(await el.isVisible()).toBe(true);
    const failedId = ids.get('not-an-image.jpg')!;
    const { json } = await stack.api('GET', `/v1/images/${failedId}`);
    const error = json.error as { code: string; message: string };
    expect(error.message.length).toBeGreaterThan(0);
    const tile = page.locator(`li.tile[data-image-id="${failedId}"]`);
    expect(await tile.getAttribute('data-status')).toBe('failed');
    expect(await tile.locator('.badge-status').textContent()).toBe('Failed');
    const reason = tile.locator('.tile-reason');
    expect(await reason.isVisible()).toBe(true);
    expect(await reason.textContent()).toBe(error.message);
    expect(await reason.getAttribute('data-code')).toBe(error.code);
    await tile.scrollIntoViewIfNeeded();
    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await tile.screenshot({ path: path.join(SCREENSHOTS, '40-failed-tile-reason.png') });
    await screenshot(page, '41-gallery-justified');
  });

  it('shows a transparent image on a light checkerboard in its tile and its details', async () => {
    const id = ids.get('blackbug.png')!;
    expect((await stack.api('GET', `/v1/images/${id}`)).json.transparent).toBe(true);
    const tileFrame = page.locator(`li.tile[data-image-id="${id}"] .frame`);
    const backdrop = (loc: ReturnType<Page['locator']>) =>
      loc.evaluate((el) => ({
        transparent: el.classList.contains('transparent'),
        color: getComputedStyle(el).backgroundColor,
      }));
    expect(await backdrop(tileFrame)).toEqual({ transparent: true, color: 'rgb(255, 255, 255)' });
    await page.locator(`li.tile[data-image-id="${id}"] button.tile-button`).click();
    await expect
      .poll(() => page.locator('#details-frame').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('loaded');
    expect(await backdrop(page.locator('#details-frame'))).toEqual({
      transparent: true,
      color: 'rgb(255, 255, 255)',
    });
    await page.waitForTimeout(600); // the fade-in, for the screenshot
    await screenshot(page, '42-transparent-details');
    await page.keyboard.press('Escape');
  });

  it('keeps Delete in view in the details at 1280×860, for wide and tall images alike', async () => {
    for (const name of ['portrait.jpg', 'landscape.jpg', 'not-an-image.jpg']) {
      await page.locator(`li.tile[data-image-id="${ids.get(name)}"] button.tile-button`).click();
      const dialog = page.locator('#details');
      await expect.poll(() => dialog.evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
      const box = await page.locator('#details-delete').boundingBox();
      expect(box, name).not.toBeNull();
      expect(box!.y, name).toBeGreaterThanOrEqual(0);
      expect(box!.y + box!.height, `${name}: Delete above the fold`).toBeLessThanOrEqual(860);
      // Nothing to scroll to reach it: the dialog itself does not scroll.
      expect(await dialog.evaluate((d) => d.scrollTop)).toBe(0);
      if (name === 'portrait.jpg') await screenshot(page, '43-details-portrait');
      await page.keyboard.press('Escape');
    }
  });

  it('writes dates as the browser’s language does (German here), not the US way', async () => {
    const german = await browser.newContext({ locale: 'de-DE', viewport: { width: 1280, height: 860 } });
    try {
      const { page: p } = await openApp(german, stack.url);
      const id = ids.get('square.jpg')!;
      await p.locator(`li.tile[data-image-id="${id}"] button.tile-button`).click();
      await expect.poll(() => p.locator('#details-list').textContent()).toContain('Uploaded');
      const uploaded = await p.locator('#details-list dt:text-is("Uploaded") + dd').textContent();
      const created = new Date(String((await stack.api('GET', `/v1/images/${id}`)).json.createdAt));
      // German medium date: 06.12.2026, 03:45 (day first, dots, 24-hour clock).
      expect(uploaded).toMatch(/^\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}$/);
      expect(uploaded).toContain(String(created.getFullYear()));
      expect(uploaded).not.toMatch(/AM|PM|\//);
    } finally {
      await german.close();
    }
  });

  it('on a phone asks to choose photos, not to drop or paste them', async () => {
    expect(await page.locator('#drop-label').textContent()).toBe('Drop photos here');
    expect(await page.locator('#drop-help').textContent()).toContain('Ctrl+V');
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    try {
      const { page: p, errors } = await openApp(phone, stack.url);
      const zone = await p.locator('#dropzone').textContent();
      expect(zone).not.toMatch(/Drop|Ctrl|paste/i);
      expect(await p.locator('#drop-label').textContent()).toBe('Add photos');
      expect(await p.locator('#pick').textContent()).toBe('Choose photos');
      await expect
        .poll(() => p.locator('li.tile .frame[data-state="loaded"]').count(), { timeout: 20_000 })
        .toBe(ids.size - 1);
      // Justified rows on a phone too: no sideways scrolling, and more than one tile on some row.
      expect(
        await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
      ).toBeLessThanOrEqual(0);
      const tops = (await frames(p)).map((b) => Math.round(b.top));
      expect(new Set(tops).size).toBeLessThan(tops.length);
      await p.waitForTimeout(600);
      await screenshot(p, '44-phone-gallery');
      expect(errors).toEqual([]);
    } finally {
      await phone.close();
    }
  });
});

describe('uploads', () => {
  it('explains "Shrink on this device" in one line and remembers the choice across reloads', async () => {
    const help = page.locator('#shrink-help');
    expect(await help.isVisible()).toBe(true);
    const text = await help.textContent();
    expect(text).toContain('2560 px');
    expect(text).toContain('WebP');
    // One line at 1280 px: no taller than a line of its own text.
    const { height, line } = await help.evaluate((el) => ({
      height: el.getBoundingClientRect().height,
      line: Number.parseFloat(getComputedStyle(el).lineHeight),
    }));
    expect(height).toBeLessThan(1.5 * line);
    expect(await page.locator('#shrink').getAttribute('aria-describedby')).toBe('shrink-help');
    expect(await page.locator('#shrink').isChecked()).toBe(true);
    await page.locator('#shrink').uncheck();
    await page.reload();
    await page.waitForSelector('html[data-ready="true"]');
    expect(await page.locator('#shrink').isChecked(), 'off after a reload').toBe(false);
    await page.locator('#shrink').check();
    await page.reload();
    await page.waitForSelector('html[data-ready="true"]');
    expect(await page.locator('#shrink').isChecked(), 'on again after a reload').toBe(true);
  });

  it('says what name a shrunk photo is sent under, and "Clear finished" removes every finished card at once', async () => {
    expect(await page.locator('#cards-bar').isHidden()).toBe(true);
    await page.setInputFiles('#file-input', [
      path.join(TESTDATA, 'photos/DSCN0010.jpg'),
      path.join(TESTDATA, 'orientation/Landscape_2.jpg'),
      path.join(TESTDATA, 'hostile/not-an-image.jpg'),
    ]);
    const card = (name: string) =>
      page.locator('li.card', { has: page.locator('.card-name', { hasText: name }) });
    for (const [name, state] of [
      ['DSCN0010.jpg', 'ready'],
      ['Landscape_2.jpg', 'ready'],
      ['not-an-image.jpg', 'failed'],
    ] as const) {
      await expect.poll(() => card(name).getAttribute('data-state'), { timeout: 90_000 }).toBe(state);
    }
    // The card keeps the picked name; the line about shrinking names what was sent.
    expect(await card('DSCN0010.jpg').locator('.card-name').textContent()).toBe('DSCN0010.jpg');
    expect(await card('DSCN0010.jpg').locator('.card-saved').textContent()).toMatch(
      /^Shrunk on this device: .*, sent as DSCN0010\.webp$/,
    );
    const clear = page.locator('#clear-finished');
    await expect.poll(() => clear.isVisible()).toBe(true);
    expect(await clear.textContent()).toBe('Clear finished (2)');
    await screenshot(page, '45-clear-finished');
    await clear.click();
    // The failed card stays (it says why); the finished ones are gone, and so is the button.
    expect(await page.locator('li.card').count()).toBe(1);
    expect(await card('not-an-image.jpg').count()).toBe(1);
    expect(await page.locator('#cards-bar').isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('signs out to the sign-in screen, and the development user can sign in again from there', async () => {
    const signOut = page.locator('#sign-out');
    expect(await signOut.isVisible()).toBe(true);
    await signOut.click();
    await page.waitForSelector('#signin:not([hidden])');
    expect(await page.locator('#uploader').isHidden()).toBe(true);
    expect(await page.locator('#gallery').isHidden()).toBe(true);
    expect(await page.locator('#sign-out').isHidden()).toBe(true);
    await page.waitForSelector('#signin-dev:not([hidden])');
    expect(await page.locator('#signin-help').isHidden()).toBe(true);
    // Still signed out after a reload of this tab.
    await page.reload();
    await page.waitForSelector('#signin:not([hidden])');
    await page.locator('#signin-dev-button').click();
    await page.waitForSelector('html[data-ready="true"]');
    expect(await page.locator('#who').textContent()).toContain('dev');
  });
});
