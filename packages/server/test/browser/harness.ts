// Shared set-up for the browser tests: `darkroom start` as a child process on free ports over a temp dir,
// Debian's Chromium through playwright-core, direct S3 reads to check what the browser stored.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { freePort, type RunningProcess, runDarkroom } from '../helpers/process.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '../../../..');
export { TESTDATA } from '@darkroom/testdata';
export const CHROMIUM = process.env.DARKROOM_CHROMIUM ?? '/usr/bin/chromium';
/** Screenshots of the main screens land here (gitignored); the path is printed in the test log. */
export const SCREENSHOTS = path.join(here, 'screenshots');

const KEY = { accessKeyId: 'browser-test-key', secretAccessKey: 'browser-test-secret-key-0123456789' };

/** Fails loudly (never skips) when something the browser tests need is missing. */
export function assertPrerequisites(): void {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: the browser tests drive Debian's Chromium. Install it with \`apt-get install -y chromium\` (or set DARKROOM_CHROMIUM).`,
    );
  }
  const missing = [
    ['packages/web/dist/index.html', 'the web app'],
    ['packages/server/dist/api/web-app.js', 'the compiled server'],
  ].filter(([file]) => !fs.existsSync(path.join(REPO, file!)));
  if (missing.length > 0) {
    throw new Error(
      `${missing.map(([file, what]) => `${what} (${file})`).join(' and ')} not built: run \`npm run build\` first (npm test does).`,
    );
  }
}

export interface BrowserStack {
  /** Where the web app and API are served (the origin the bucket's CORS rule allows). */
  url: string;
  s3Url: string;
  s3: S3Client;
  bucket: string;
  darkroom: RunningProcess;
  dataDir: string;
  /** An API token for the development user, to check through the API what the UI did. */
  token(): Promise<string>;
  api(method: string, p: string): Promise<{ status: number; json: Record<string, unknown> }>;
  /** Kills `darkroom start` at once (SIGKILL: the API and storage vanish mid-request), keeping its data. */
  kill(): Promise<void>;
  /** Starts it again on the same ports, data dir and keys (after `kill`). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts `darkroom start` with its own ports, data dir and S3 keys; `env` overrides. */
export async function startDarkroom(env: Record<string, string> = {}): Promise<BrowserStack> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-browser-'));
  const port = await freePort();
  const s3Port = await freePort();
  const fullEnv = {
    DARKROOM_PORT: String(port),
    DARKROOM_S3_PORT: String(s3Port),
    DARKROOM_SQS_PORT: String(await freePort()),
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_S3_ACCESS_KEY_ID: KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: KEY.secretAccessKey,
    DARKROOM_LOG_LEVEL: process.env.DARKROOM_TEST_LOG ?? 'warn',
    DARKROOM_WORKER_CONCURRENCY: '2',
    ...env,
  };
  let darkroom = runDarkroom(['start'], fullEnv, REPO);
  try {
    await darkroom.waitForOutput('Darkroom is running', 40_000);
  } catch (err) {
    darkroom.child.kill('SIGKILL');
    fs.rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  const url = `http://127.0.0.1:${port}`;
  const s3Url = `http://127.0.0.1:${s3Port}`;
  const s3 = new S3Client({ endpoint: s3Url, region: 'us-east-1', forcePathStyle: true, credentials: KEY });
  let cached: string | undefined;
  const token = async () => {
    cached ??= ((await (await fetch(`${url}/dev/token`)).json()) as { token: string }).token;
    return cached;
  };
  return {
    url,
    s3Url,
    s3,
    bucket: 'darkroom',
    get darkroom() {
      return darkroom;
    },
    dataDir,
    token,
    async api(method, p) {
      const res = await fetch(`${url}${p}`, {
        method,
        headers: { authorization: `Bearer ${await token()}` },
      });
      const text = await res.text();
      return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    },
    async kill() {
      darkroom.child.kill('SIGKILL');
      await darkroom.exited;
    },
    async restart() {
      darkroom = runDarkroom(['start'], fullEnv, REPO);
      await darkroom.waitForOutput('Darkroom is running', 40_000);
    },
    async stop() {
      s3.destroy();
      if (darkroom.child.exitCode === null && darkroom.child.signalCode === null) {
        darkroom.child.kill('SIGTERM');
        const timer = setTimeout(() => darkroom.child.kill('SIGKILL'), 15_000);
        await darkroom.exited;
        clearTimeout(timer);
      }
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Headless Debian Chromium. */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** Opens the app and waits until it has signed in and rendered. Page errors fail the test. */
export async function openApp(
  context: BrowserContext,
  url: string,
): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    // CSP violations and uncaught errors show up here; network 404s of unready variants do not count.
    if (msg.type() === 'error' && !/Failed to load resource/.test(msg.text())) errors.push(msg.text());
  });
  await page.goto(url);
  await page.waitForSelector('html[data-ready="true"]', { timeout: 15_000 });
  return { page, errors };
}

/** Saves a full-page screenshot under SCREENSHOTS/<name>.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** The stored original's bytes (uploads/{id}), or undefined when there is none. */
export async function storedOriginal(stack: BrowserStack, id: string): Promise<Buffer | undefined> {
  try {
    const res = await stack.s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: `uploads/${id}` }));
    return Buffer.from(await res.Body!.transformToByteArray());
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  }
}

/** True when storage has an object under this key. */
export async function objectExists(stack: BrowserStack, key: string): Promise<boolean> {
  try {
    await stack.s3.send(new HeadObjectCommand({ Bucket: stack.bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

/** Removes objects a test put (used only where a test wants a clean bucket). */
export async function deleteObjects(stack: BrowserStack, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await stack.s3.send(
    new DeleteObjectsCommand({ Bucket: stack.bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }),
  );
}

/** Polls `check` until it returns a value (not undefined) or the time runs out. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * Records, inside the page, every change of a card's `data-state`/`data-progress` and of a gallery frame's
 * `data-state`, so a test can check the order things happened in (progress 100 before ready, placeholder
 * before variant) without racing the UI.
 */
export async function recordUiEvents(page: Page): Promise<void> {
  await page.evaluate(() => {
    const log: { t: number; kind: string; key: string; value: string }[] = [];
    (window as unknown as { __uiLog: typeof log }).__uiLog = log;
    const note = (el: Element) => {
      const t = performance.now();
      if (el.matches('li.card')) {
        const card = el as HTMLElement;
        const key = card.querySelector('.card-name')?.textContent ?? card.id;
        log.push({ t, kind: 'card-state', key, value: card.dataset.state ?? '' });
        log.push({ t, kind: 'card-progress', key, value: card.dataset.progress ?? '' });
        if (card.dataset.imageId) log.push({ t, kind: 'card-image', key, value: card.dataset.imageId });
      } else if (el.matches('.tile .frame')) {
        const id = el.closest<HTMLElement>('li.tile')?.dataset.imageId ?? '';
        log.push({ t, kind: 'frame', key: id, value: (el as HTMLElement).dataset.state ?? '' });
      }
    };
    new MutationObserver((records) => {
      for (const r of records) {
        if (r.type === 'attributes') note(r.target as Element);
        for (const n of r.addedNodes) {
          if (!(n instanceof Element)) continue;
          note(n);
          for (const inner of n.querySelectorAll('li.card, .tile .frame')) note(inner);
        }
      }
    }).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-state', 'data-progress', 'data-image-id'],
    });
  });
}

/** The log recordUiEvents collected. */
export async function uiLog(page: Page): Promise<{ t: number; kind: string; key: string; value: string }[]> {
  return page.evaluate(
    () =>
      (window as unknown as { __uiLog: { t: number; kind: string; key: string; value: string }[] }).__uiLog,
  );
}
