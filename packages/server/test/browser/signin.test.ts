// With a real JWT secret, `darkroom start` hands out no development tokens: the web app asks for a token,
// refuses one that is not valid, and works with one minted for another user.
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import {
  assertPrerequisites,
  type BrowserStack,
  launchChromium,
  screenshot,
  startDarkroom,
  TESTDATA,
} from './harness.ts';

const SECRET = 'browser-test-real-secret-0123456789';
let stack: BrowserStack;
let browser: Browser;

beforeAll(async () => {
  assertPrerequisites();
  stack = await startDarkroom({ DARKROOM_JWT_SECRET: SECRET });
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('sign-in without the development route', () => {
  it('has no /dev/token; the app asks for a token, refuses a bad one and works with a good one', async () => {
    expect((await fetch(`${stack.url}/dev/token`)).status).toBe(404);
    const context = await browser.newContext({ viewport: { width: 800, height: 700 } });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(stack.url);
      await page.waitForSelector('#signin:not([hidden])');
      expect(await page.locator('#uploader').isHidden()).toBe(true);
      // The token field has focus and a label.
      expect(await page.evaluate(() => document.activeElement?.id)).toBe('token-input');
      expect(await page.locator('label[for="token-input"]').textContent()).toBe('API token');
      await screenshot(page, '30-signin');

      await page.fill('#token-input', 'not-a-token');
      await page.click('#signin-form button[type="submit"]');
      expect(
        await page.locator('#token-input').evaluate((el: HTMLTextAreaElement) => el.validationMessage),
      ).toContain('not a valid');
      expect(await page.locator('#signin').isVisible()).toBe(true);

      // Well-formed and unexpired, but signed with another secret: the API refuses it and the app asks again.
      await page.fill(
        '#token-input',
        await mintToken('some-other-secret-0123456789', { sub: 'mallory', ttlSeconds: 600 }),
      );
      await page.click('#signin-form button[type="submit"]');
      await page.waitForSelector('#signin-reason:not([hidden])', { timeout: 15_000 });
      // The exact reason the API gave (not a guess between "expired" and "another server"), and the fix.
      const reason = await page.locator('#signin-reason').textContent();
      expect(reason).toContain('refused that token');
      expect(reason).toContain('signed with another one');
      expect(reason).toContain('DARKROOM_JWT_SECRET');
      expect(reason).not.toContain('expired');
      expect(await page.locator('#signin').textContent()).toContain('same DARKROOM_JWT_SECRET');
      expect(await page.locator('#uploader').isHidden()).toBe(true);

      await page.fill('#token-input', await mintToken(SECRET, { sub: 'alice', ttlSeconds: 600 }));
      await page.click('#signin-form button[type="submit"]');
      await page.waitForSelector('html[data-ready="true"]');
      expect(await page.locator('#who').textContent()).toContain('alice');
      await page.setInputFiles('#file-input', [path.join(TESTDATA, 'orientation/Landscape_2.jpg')]);
      const card = page.locator('li.card').first();
      await expect.poll(() => card.getAttribute('data-state'), { timeout: 60_000 }).toBe('ready');
      const id = (await card.getAttribute('data-image-id'))!;
      // The image belongs to alice: her token sees it.
      const res = await fetch(`${stack.url}/v1/images/${id}`, {
        headers: { authorization: `Bearer ${await mintToken(SECRET, { sub: 'alice', ttlSeconds: 60 })}` },
      });
      expect(res.status).toBe(200);
      // Sign out: back to the sign-in form, the token forgotten (a reload does not sign in again), and no
      // development user offered on a server that has none.
      await page.click('#sign-out');
      await page.waitForSelector('#signin:not([hidden])');
      expect(await page.locator('#uploader').isHidden()).toBe(true);
      await page.reload();
      await page.waitForSelector('#signin:not([hidden])');
      expect(await page.locator('#signin-dev').isHidden()).toBe(true);
      expect(await page.locator('#signin-help').isVisible()).toBe(true);
      expect(await page.evaluate(() => sessionStorage.getItem('darkroom.token'))).toBeNull();
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 90_000);
});
