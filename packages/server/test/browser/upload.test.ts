// The web app end to end in headless Chromium against `darkroom start`: photos and an EXIF-rotated file
// picked through the UI, progress to 100 %, placeholder then variant, what storage holds (smaller, no
// EXIF, upright), details, delete, a refused type, keyboard focus, a phone-sized screen, no layout shift.
import fs from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp, { type Sharp } from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertPrerequisites,
  type BrowserStack,
  launchChromium,
  objectExists,
  openApp,
  recordUiEvents,
  SCREENSHOTS,
  screenshot,
  startDarkroom,
  storedOriginal,
  TESTDATA,
  uiLog,
} from './harness.ts';

const FILES = [
  'photos/2569067123_aca715a2ee_o.jpg',
  'photos/oppo-r7-plus_13mp_gps.jpg',
  'photos/DSCN0010.jpg',
  'orientation/Landscape_6.jpg',
].map((f) => path.join(TESTDATA, f));
const ORIENTED = 'Landscape_6.jpg';

/** EXIF/XMP/ICC-free check on the container itself: WebP's RIFF chunks, or JPEG's APP1 segments. */
function metadataBlocks(buf: Buffer): string[] {
  const found: string[] = [];
  if (buf.toString('latin1', 0, 4) === 'RIFF' && buf.toString('latin1', 8, 12) === 'WEBP') {
    for (let at = 12; at + 8 <= buf.length; ) {
      const fourcc = buf.toString('latin1', at, at + 4);
      if (fourcc === 'EXIF' || fourcc === 'XMP ') found.push(fourcc);
      at += 8 + buf.readUInt32LE(at + 4) + (buf.readUInt32LE(at + 4) % 2);
    }
  } else if (buf[0] === 0xff && buf[1] === 0xd8) {
    for (let at = 2; at + 4 <= buf.length && buf[at] === 0xff; ) {
      const marker = buf[at + 1]!;
      if (marker === 0xda) break;
      if (marker === 0xe1) found.push('APP1');
      at += 2 + buf.readUInt16BE(at + 2);
    }
  }
  return found;
}

let stack: BrowserStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let pageErrors: string[];
/** filename → image id, filled by the upload test. */
const ids = new Map<string, string>();

beforeAll(async () => {
  assertPrerequisites();
  stack = await startDarkroom();
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  ({ page, errors: pageErrors } = await openApp(context, stack.url));
  console.log(`screenshots: ${SCREENSHOTS}`);
}, 60_000);

afterAll(async () => {
  await context?.close();
  await browser?.close();
  await stack?.stop();
});

describe('web app in Chromium', () => {
  it('serves the app with its CSP, and the first screen is keyboard reachable with visible focus', async () => {
    const res = await fetch(stack.url);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(stack.s3Url);
    expect(await res.text()).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(await page.locator('#who').textContent()).toContain('dev');
    // Tab from the top of the page to the picker button.
    let focused = '';
    for (let i = 0; i < 6 && focused !== 'pick'; i++) {
      await page.keyboard.press('Tab');
      focused = await page.evaluate(() => document.activeElement?.id ?? '');
    }
    expect(focused).toBe('pick');
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle);
    expect(outline).not.toBe('none');
    await screenshot(page, '01-empty');
  });

  it('uploads photos and an EXIF-rotated file picked in the UI: progress reaches 100 %, placeholder then variant', async () => {
    await recordUiEvents(page);
    await page.evaluate(() => {
      const w = window as unknown as { __cls: number };
      w.__cls = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries() as (PerformanceEntry & {
          value: number;
          hadRecentInput: boolean;
        })[]) {
          if (!e.hadRecentInput) w.__cls += e.value;
        }
      }).observe({ type: 'layout-shift', buffered: true });
    });
    await page.setInputFiles('#file-input', FILES);
    await expect.poll(() => page.locator('li.card').count()).toBe(FILES.length);
    await screenshot(page, '02-uploading');
    await expect
      .poll(
        () =>
          page.$$eval('li.card', (cards) =>
            cards.map(
              (c) => `${(c as HTMLElement).dataset.state}:${c.querySelector('.card-status')?.textContent}`,
            ),
          ),
        { timeout: 90_000, interval: 500 },
      )
      .toEqual(FILES.map(() => 'ready:Ready'));

    const log = await uiLog(page);
    // Three uploads at a time: the fourth file waited for a slot.
    const queued = new Set(
      log.filter((e) => e.kind === 'card-state' && e.value === 'queued').map((e) => e.key),
    );
    expect(queued.size).toBe(FILES.length - 3);
    for (const file of FILES) {
      const name = path.basename(file);
      const mine = log.filter((e) => e.key === name);
      const hundred = mine.findIndex((e) => e.kind === 'card-progress' && e.value === '100');
      const ready = mine.findIndex((e) => e.kind === 'card-state' && e.value === 'ready');
      expect(hundred, `${name}: progress reached 100 %`).toBeGreaterThanOrEqual(0);
      expect(mine.some((e) => e.kind === 'card-state' && e.value === 'uploading')).toBe(true);
      expect(hundred, `${name}: 100 % before ready`).toBeLessThanOrEqual(ready);
      const id = mine.find((e) => e.kind === 'card-image')?.value;
      expect(id, `${name}: image id on the card`).toMatch(/^[0-9a-f-]{36}$/);
      ids.set(name, id!);
    }

    // Each image's tile showed its thumbhash placeholder first, then the loaded variant on top.
    for (const [name, id] of ids) {
      await expect
        .poll(() => page.locator(`li.tile[data-image-id="${id}"] .frame`).getAttribute('data-state'), {
          timeout: 20_000,
        })
        .toBe('loaded');
      const frames = (await uiLog(page))
        .filter((e) => e.kind === 'frame' && e.key === id)
        .map((e) => e.value);
      expect(frames.indexOf('placeholder'), `${name}: placeholder shown`).toBeGreaterThanOrEqual(0);
      expect(frames.indexOf('placeholder'), `${name}: placeholder before the variant`).toBeLessThan(
        frames.indexOf('loaded'),
      );
      const shown = await page
        .locator(`li.tile[data-image-id="${id}"] img.photo`)
        .evaluate((img: HTMLImageElement) => ({ w: img.naturalWidth, src: img.currentSrc }));
      expect(shown.w).toBeGreaterThan(0);
      expect(shown.src).toContain(`/img/${id}/`);
    }
    const saved = await page.locator('li.card .card-saved').allTextContents();
    expect(saved.filter((t) => t.startsWith('Shrunk on this device')).length).toBe(FILES.length);
    const cls = await page.evaluate(() => (window as unknown as { __cls: number }).__cls);
    console.log(`cumulative layout shift: ${cls.toFixed(4)}`);
    expect(cls, 'cumulative layout shift').toBeLessThan(0.1);
    expect(pageErrors).toEqual([]);
    // Every control has a name a screen reader can say, and every image an alt (empty when decorative).
    const unnamed = await page.evaluate(() => {
      const nameOf = (el: Element) => {
        const by = el.getAttribute('aria-labelledby');
        const labelled = by ? by.split(' ').map((id) => document.getElementById(id)?.textContent ?? '') : [];
        const forLabel = el.id ? (document.querySelector(`label[for="${el.id}"]`)?.textContent ?? '') : '';
        const wrapping = el.closest('label')?.textContent ?? '';
        return [el.getAttribute('aria-label') ?? '', ...labelled, forLabel, wrapping, el.textContent ?? '']
          .join('')
          .trim();
      };
      const controls = [...document.querySelectorAll('button, input, progress, textarea, select')].filter(
        (el) => !(el as HTMLElement).closest('[hidden]') && !(el as HTMLInputElement).hidden,
      );
      return [
        ...controls.filter((el) => nameOf(el) === '').map((el) => el.outerHTML.slice(0, 80)),
        ...[...document.querySelectorAll('img:not([alt])')].map((el) => el.outerHTML.slice(0, 80)),
      ];
    });
    expect(unnamed).toEqual([]);
    await screenshot(page, '03-uploaded-gallery');
  }, 120_000);

  it('stored each original smaller than the source, without EXIF or GPS, and upright', async () => {
    for (const file of FILES) {
      const name = path.basename(file);
      const stored = await storedOriginal(stack, ids.get(name)!);
      expect(stored, `${name} stored`).toBeDefined();
      expect(stored!.length, `${name}: smaller than the source`).toBeLessThan(fs.statSync(file).size);
      const meta = await sharp(stored!).metadata();
      expect(meta.exif, `${name}: no EXIF`).toBeUndefined();
      expect(meta.xmp, `${name}: no XMP`).toBeUndefined();
      expect(meta.orientation ?? 1).toBe(1);
      expect(metadataBlocks(stored!), `${name}: no metadata blocks in the container`).toEqual([]);
    }
    // Landscape_6 is stored 450×600 with Orientation 6: the browser sent it turned upright, 600×450.
    const oriented = await storedOriginal(stack, ids.get(ORIENTED)!);
    const meta = await sharp(oriented!).metadata();
    expect([meta.width, meta.height]).toEqual([600, 450]);
    const grey = (img: Sharp) => img.resize(120, 90, { fit: 'fill' }).greyscale().raw().toBuffer();
    const expected = await grey(sharp(path.join(TESTDATA, 'orientation', ORIENTED)).rotate());
    const actual = await grey(sharp(oriented!));
    let diff = 0;
    for (let i = 0; i < expected.length; i++) diff += Math.abs(expected[i]! - actual[i]!);
    expect(diff / expected.length, 'mean difference from the upright reference').toBeLessThan(12);
  });

  it('shows details (size, format, variants, dominant colour) and deletes an image', async () => {
    const id = ids.get('DSCN0010.jpg')!;
    const tileButton = page.locator(`li.tile[data-image-id="${id}"] button.tile-button`);
    const dialog = page.locator('#details');
    // By keyboard: Enter opens the details, Escape closes them and focus goes back to the tile.
    await tileButton.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => dialog.evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    await page.keyboard.press('Escape');
    await expect.poll(() => dialog.evaluate((d: HTMLDialogElement) => d.open)).toBe(false);
    expect(await tileButton.evaluate((b) => b === document.activeElement)).toBe(true);
    await tileButton.click();
    await expect.poll(() => dialog.evaluate((d: HTMLDialogElement) => d.open)).toBe(true);
    const text = await dialog.textContent();
    // The SDK names what it sends after its format (DSCN0010.webp).
    expect(text).toContain('DSCN0010.');
    expect(text).toMatch(/\d+ × \d+ px/);
    expect(text).toContain('Dominant colour');
    expect(text).toMatch(/#[0-9a-f]{6}/i);
    expect(text).toContain('thumb');
    await expect
      .poll(() => page.locator('#details-frame').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('loaded');
    await page.waitForTimeout(600); // the fade-in, for the screenshot
    await screenshot(page, '04-details');
    await page.locator('#details-delete').click();
    expect(await page.locator('#details-status').textContent()).toContain('Click again');
    await page.locator('#details-delete').click();
    await expect.poll(() => page.locator(`li.tile[data-image-id="${id}"]`).count()).toBe(0);
    expect((await stack.api('GET', `/v1/images/${id}`)).status).toBe(404);
    expect(await objectExists(stack, `uploads/${id}`)).toBe(false);
  });

  it('shows a transparent image on a light checkerboard, an opaque one on its dominant colour (issue 17)', async () => {
    // blackbug.png is black ink on transparent pixels: on its dominant colour (#080808 before) it vanished.
    await page.setInputFiles('#file-input', [path.join(TESTDATA, 'formats/blackbug.png')]);
    const tile = page.locator('li.tile', { has: page.locator('img[alt^="blackbug"]') });
    await expect
      .poll(() => tile.locator('.frame').getAttribute('data-state'), { timeout: 60_000 })
      .toBe('loaded');
    const id = (await tile.getAttribute('data-image-id'))!;
    expect((await stack.api('GET', `/v1/images/${id}`)).json.transparent).toBe(true);
    const backdrop = (selector: string) =>
      page.locator(selector).evaluate((el) => {
        const s = getComputedStyle(el);
        return {
          transparent: el.classList.contains('transparent'),
          color: s.backgroundColor,
          image: s.backgroundImage,
        };
      });
    const checker = await backdrop(`li.tile[data-image-id="${id}"] .frame`);
    expect(checker).toMatchObject({ transparent: true, color: 'rgb(255, 255, 255)' });
    expect(checker.image).toContain('conic-gradient');
    // The details view too.
    await tile.locator('button.tile-button').click();
    await expect
      .poll(() => backdrop('#details-frame'))
      .toMatchObject({ transparent: true, color: 'rgb(255, 255, 255)' });
    await expect
      .poll(() => page.locator('#details-frame').getAttribute('data-state'), { timeout: 10_000 })
      .toBe('loaded');
    await page.waitForTimeout(600); // the fade-in, for the screenshot
    await screenshot(page, '04b-transparent-details');
    await page.keyboard.press('Escape');
    // An opaque photo keeps its dominant colour behind it.
    const opaque = ids.get('2569067123_aca715a2ee_o.jpg')!;
    const hex = String((await stack.api('GET', `/v1/images/${opaque}`)).json.dominantColor);
    const rgb = `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
    expect(await backdrop(`li.tile[data-image-id="${opaque}"] .frame`)).toMatchObject({
      transparent: false,
      color: rgb,
      image: 'none',
    });
  }, 90_000);

  it('refuses a type it cannot take, with a message naming the file and why', async () => {
    const svg = path.join(TESTDATA, 'hostile/maliciousJsAndPhpTest.svg');
    const cardsBefore = await page.locator('li.card').count();
    await page.setInputFiles('#file-input', [
      { name: path.basename(svg), mimeType: 'image/svg+xml', buffer: fs.readFileSync(svg) },
      { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') },
      // The server does not take TIFF and Chromium cannot convert it: refused here, in words (issue 17).
      {
        name: 'uncompressed_tiff.tiff',
        mimeType: 'image/tiff',
        buffer: fs.readFileSync(path.join(TESTDATA, 'formats/uncompressed_tiff.tiff')),
      },
    ]);
    const refusals = page.locator('#refusals');
    await expect.poll(() => refusals.textContent()).toContain('maliciousJsAndPhpTest.svg');
    const text = await refusals.textContent();
    expect(text).toContain('notes.txt');
    expect(text).toContain(
      '“uncompressed_tiff.tiff” is a TIFF image, which cannot be uploaded here; you can upload JPEG, PNG, WEBP, AVIF, GIF, HEIC or HEIF images.',
    );
    expect(text).toContain('3 files were not uploaded');
    // The picker offers the same list, not image/* (which offered TIFF).
    const accept = await page.locator('#file-input').getAttribute('accept');
    expect(accept?.split(',')).toEqual([
      'image/jpeg',
      'image/png',
      'image/webp',
      'image/avif',
      'image/gif',
      'image/heic',
      'image/heif',
      '.heic',
      '.heif',
    ]);
    expect(await refusals.getAttribute('role')).toBe('alert');
    expect(await page.locator('li.card').count(), 'no card for a refused file').toBe(cardsBefore);
    await screenshot(page, '05-refused');
  });

  it('turns an iPhone HEIC into an upright WebP in the browser (lazy WASM decoder under the app CSP)', async () => {
    const heic = path.join(TESTDATA, 'orientation/iphone_13_pro_max.HEIC');
    await page.setInputFiles('#file-input', [heic]);
    const card = page.locator('li.card', {
      has: page.locator('.card-name', { hasText: 'iphone_13_pro_max.HEIC' }),
    });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 90_000 }).toBe('ready');
    expect(await card.locator('.card-saved').textContent()).toMatch(/^Shrunk on this device/);
    const id = (await card.getAttribute('data-image-id'))!;
    const stored = await storedOriginal(stack, id);
    const meta = await sharp(stored!).metadata();
    expect(meta.format).toBe('webp');
    // 3024×4032 once irot is applied (portrait); applying EXIF Orientation 6 on top would make it landscape.
    expect(meta.height!).toBeGreaterThan(meta.width!);
    expect(meta.exif).toBeUndefined();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('a file that is not an image fails with the reason on its card and in the gallery, nothing silent', async () => {
    await page.setInputFiles('#file-input', [path.join(TESTDATA, 'hostile/not-an-image.jpg')]);
    const card = page.locator('li.card', {
      has: page.locator('.card-name', { hasText: 'not-an-image.jpg' }),
    });
    await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('failed');
    const status = (await card.locator('.card-status').textContent()) ?? '';
    // It can never succeed: the card says why and offers no Retry (issue 17).
    expect(status).toMatch(/^Cannot be uploaded: \S/);
    expect(await card.locator('.card-saved').textContent()).toContain('this browser cannot decode it');
    expect(await card.locator('.card-retry').isHidden()).toBe(true);
    const id = (await card.getAttribute('data-image-id'))!;
    const tile = page.locator(`li.tile[data-image-id="${id}"]`);
    await expect.poll(() => tile.getAttribute('data-status'), { timeout: 10_000 }).toBe('failed');
    expect(await tile.locator('.badge-status').textContent()).toBe('Failed');
    // The tile says why, in the API's words (issue 17).
    const { json } = await stack.api('GET', `/v1/images/${id}`);
    expect(await tile.locator('.tile-reason').textContent()).toBe(
      (json.error as { message: string }).message,
    );
    await screenshot(page, '07-failed');
  }, 90_000);

  it('takes files dropped on the drop zone and pasted into the page', async () => {
    const files = {
      'dropped.jpg': fs.readFileSync(path.join(TESTDATA, 'orientation/Landscape_1.jpg')).toString('base64'),
      'pasted.jpg': fs.readFileSync(path.join(TESTDATA, 'orientation/Portrait_1.jpg')).toString('base64'),
    };
    await page.evaluate((f) => {
      const transfer = (name: string) => {
        const dt = new DataTransfer();
        const bytes = Uint8Array.from(atob(f[name as keyof typeof f]), (c) => c.charCodeAt(0));
        dt.items.add(new File([bytes], name, { type: 'image/jpeg' }));
        return dt;
      };
      const zone = document.getElementById('dropzone')!;
      const drop = transfer('dropped.jpg');
      for (const type of ['dragenter', 'dragover', 'drop']) {
        zone.dispatchEvent(new DragEvent(type, { dataTransfer: drop, bubbles: true, cancelable: true }));
      }
      document.body.dispatchEvent(
        new ClipboardEvent('paste', {
          clipboardData: transfer('pasted.jpg'),
          bubbles: true,
          cancelable: true,
        }),
      );
    }, files);
    for (const name of Object.keys(files)) {
      const card = page.locator('li.card', { has: page.locator('.card-name', { hasText: name }) });
      await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    }
  }, 90_000);

  it('shows an image uploaded elsewhere as it develops, without a reload (status events)', async () => {
    const file = path.join(TESTDATA, 'orientation/Landscape_3.jpg');
    const bytes = fs.readFileSync(file);
    const res = await fetch(`${stack.url}/v1/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await stack.token()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ filename: 'from-a-script.jpg', contentType: 'image/jpeg', size: bytes.length }),
    });
    expect(res.status).toBe(201);
    const intent = (await res.json()) as {
      image: { id: string };
      upload: { url: string; headers: Record<string, string> };
    };
    const put = await fetch(intent.upload.url, {
      method: 'PUT',
      headers: intent.upload.headers,
      body: bytes,
    });
    expect(put.status).toBe(200);
    const frame = page.locator(`li.tile[data-image-id="${intent.image.id}"] .frame`);
    await expect.poll(() => frame.getAttribute('data-state'), { timeout: 30_000 }).toBe('loaded');
  });

  it('fits a narrow phone screen: no sideways scrolling, gallery and cards readable', async () => {
    const phone = await browser.newContext({
      viewport: { width: 360, height: 740 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    });
    try {
      const { page: small, errors } = await openApp(phone, stack.url);
      await expect
        .poll(() => small.locator('li.tile .frame[data-state="loaded"]').count(), { timeout: 20_000 })
        .toBeGreaterThan(0);
      const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(overflow).toBeLessThanOrEqual(0);
      await small.setInputFiles('#file-input', [path.join(TESTDATA, 'orientation/Portrait_3.jpg')]);
      await expect
        .poll(() => small.locator('li.card').getAttribute('data-state'), { timeout: 60_000 })
        .toBe('ready');
      expect(
        await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth),
      ).toBeLessThanOrEqual(0);
      const id = await small.locator('li.card').getAttribute('data-image-id');
      await expect
        .poll(() => small.locator(`li.tile[data-image-id="${id}"] .frame`).getAttribute('data-state'), {
          timeout: 20_000,
        })
        .toBe('loaded');
      await small.waitForTimeout(600); // the fade-in, for the screenshot
      await screenshot(small, '06-phone');
      expect(errors).toEqual([]);
    } finally {
      await phone.close();
    }
  }, 90_000);

  it('pages through the gallery with the cursor: every image once, newest first', async () => {
    const token = await stack.token();
    const created: string[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${stack.url}/v1/uploads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ filename: `page-${i}.jpg`, contentType: 'image/jpeg', size: 1000 }),
      });
      expect(res.status).toBe(201);
      created.push(((await res.json()) as { image: { id: string } }).image.id);
    }
    try {
      const all: string[] = [];
      let cursor: string | null = null;
      do {
        const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
        const page: { json: Record<string, unknown> } = await stack.api('GET', `/v1/images?limit=100${q}`);
        all.push(...(page.json.images as { id: string }[]).map((i) => i.id));
        cursor = page.json.nextCursor as string | null;
      } while (cursor);
      const fresh = await context.newPage();
      const cursors: string[] = [];
      fresh.on('request', (r) => {
        const c = new URL(r.url()).searchParams.get('cursor');
        if (r.url().includes('/v1/images?') && c) cursors.push(c);
      });
      await fresh.goto(stack.url);
      await fresh.waitForSelector('html[data-ready="true"]');
      await expect.poll(() => fresh.locator('li.tile').count()).toBeGreaterThanOrEqual(24);
      // More than one page: the button (or scrolling to it) loads the rest.
      for (let i = 0; i < 5 && (await fresh.locator('#load-more').isVisible()); i++) {
        await fresh.locator('#load-more').click();
        await fresh.waitForTimeout(300);
      }
      await expect.poll(() => fresh.locator('li.tile').count()).toBe(all.length);
      const shown = await fresh.$$eval('li.tile', (tiles) =>
        tiles.map((t) => (t as HTMLElement).dataset.imageId),
      );
      expect(shown).toEqual(all);
      expect(cursors.length).toBeGreaterThan(0);
      expect(await fresh.locator('#load-more').isHidden()).toBe(true);
      await fresh.close();
    } finally {
      for (const id of created) await stack.api('DELETE', `/v1/uploads/${id}`);
    }
  });
});
