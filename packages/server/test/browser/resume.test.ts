// Resuming a multipart upload after a reload: part 1 lands, the others are held at the network edge, the
// page reloads, the app offers the interrupted upload, and Resume sends only the missing parts (storage's
// ListParts is the truth); the stored object is the file, byte for byte.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noisePng } from '../helpers/photos.ts';
import {
  assertPrerequisites,
  type BrowserStack,
  launchChromium,
  openApp,
  screenshot,
  startDarkroom,
} from './harness.ts';

/** The smallest multipart threshold and part size config.ts allows (S3's own 5 MiB minimum part). */
const PART = 5 * 1024 * 1024;

let stack: BrowserStack;
let browser: Browser;
let context: BrowserContext;
let tmp: string;
let file: string;

beforeAll(async () => {
  assertPrerequisites();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-resume-'));
  // Noise does not compress: a 2000×2000 PNG of it is about 12 MB, three parts.
  file = path.join(tmp, 'noise.png');
  fs.writeFileSync(file, await noisePng(2000, 2000));
  expect(fs.statSync(file).size).toBeGreaterThan(2 * PART);
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

describe('resume in the web app', () => {
  it('resumes a multipart upload after a reload, sending only the parts storage does not have', async () => {
    const { page, errors } = await openApp(context, stack.url);
    const held: Route[] = [];
    let holding = true;
    await page.route(`${stack.s3Url}/**`, async (route) => {
      if (!holding || partOf(route.request().url()) === 1) await route.continue();
      else held.push(route); // never answered: the connection "drops" at the reload
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
    // The SDK writes the part into its resume record (IndexedDB, its default database) after the response.
    const storedParts = (imageId: string) =>
      page.evaluate(
        (key) =>
          new Promise<number[]>((resolve) => {
            const open = indexedDB.open('darkroom-uploads');
            open.onerror = () => resolve([]);
            open.onsuccess = () => {
              const db = open.result;
              if (!db.objectStoreNames.contains('uploads')) return resolve([]);
              const get = db.transaction('uploads').objectStore('uploads').get(key);
              get.onsuccess = () =>
                resolve(((get.result?.parts ?? []) as { partNumber: number }[]).map((p) => p.partNumber));
              get.onerror = () => resolve([]);
            };
          }),
        imageId,
      );
    await expect.poll(() => storedParts(id), { timeout: 10_000 }).toContain(1);
    expect(held.length, 'later parts were in flight').toBeGreaterThan(0);
    await screenshot(page, '20-multipart-interrupted');

    // Not unrouteAll: that lets the held requests through to storage, racing the reload. The reload cancels
    // them; everything after it passes.
    holding = false;
    await page.reload();
    await page.waitForSelector('html[data-ready="true"]');
    const offer = page.locator(`#resume-list li[data-image-id="${id}"]`);
    await expect.poll(() => offer.count(), { timeout: 10_000 }).toBe(1);
    expect(await offer.textContent()).toContain('noise.png');
    await screenshot(page, '21-resume-offered');

    const sentAfterReload: number[] = [];
    page.on('request', (r) => {
      if (r.url().startsWith(stack.s3Url) && r.method() === 'PUT') sentAfterReload.push(partOf(r.url()));
    });
    await offer.locator('button.resume').click();
    const resumed = page.locator('li.card').first();
    // When the browser cannot re-read the kept bytes, the app asks for the file again.
    await expect
      .poll(() => resumed.getAttribute('data-state'), { timeout: 20_000 })
      .toMatch(/^(needs-file|uploading|uploaded|processing|ready)$/);
    if ((await resumed.getAttribute('data-state')) === 'needs-file') {
      await resumed.locator('input.repick-input').setInputFiles(file);
    }
    await expect.poll(() => resumed.getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
    expect(await resumed.getAttribute('data-image-id')).toBe(id);
    expect(sentAfterReload.length).toBeGreaterThan(0);
    expect(sentAfterReload, 'part 1 was not sent again').not.toContain(1);
    expect(new Set(sentAfterReload)).toEqual(new Set([2, 3]));

    const stored = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: `uploads/${id}` }));
    const body = Buffer.from(await stored.Body!.transformToByteArray());
    const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');
    expect(body.length).toBe(fs.statSync(file).size);
    expect(sha(body)).toBe(sha(fs.readFileSync(file)));
    expect((await stack.api('GET', `/v1/images/${id}`)).json.status).toBe('ready');
    await screenshot(page, '22-resumed');
    expect(errors).toEqual([]);
  }, 100_000);
});
