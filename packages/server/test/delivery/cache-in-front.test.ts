import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/process.ts';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// A real shared cache (nginx proxy_cache, default Cache-Control handling) in front of the delivery
// routes, standing in for CloudFront: what the origin marks cacheable is served from the cache on the
// second request; private, unsigned and error responses never are.

const NGINX = '/usr/sbin/nginx';
const PHOTO = path.join(TESTDATA, 'orientation/Landscape_6.jpg');

/**
 * The nginx configuration: key on the URI plus the normalised format class (as the CloudFront
 * function does with x-darkroom-format), send the origin the matching normalised Accept, and ignore
 * Vary because the key already holds the only thing the origin varies on.
 */
function nginxConf(dir: string, port: number, origin: string): string {
  return `
${process.getuid?.() === 0 ? 'user root;' : ''}
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 128; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy_temp;
  fastcgi_temp_path ${dir}/fastcgi_temp;
  uwsgi_temp_path ${dir}/uwsgi_temp;
  scgi_temp_path ${dir}/scgi_temp;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=darkroom:1m max_size=64m inactive=1h use_temp_path=off;

  map $http_accept $darkroom_format {
    default original;
    "~*image/avif(?!\\s*;\\s*q=0(\\.0*)?(\\s|,|$))" avif;
    "~*image/webp(?!\\s*;\\s*q=0(\\.0*)?(\\s|,|$))" webp;
  }
  map $darkroom_format $darkroom_accept {
    avif "image/avif,image/webp,*/*;q=0.8";
    webp "image/webp,*/*;q=0.8";
    default "*/*";
  }

  server {
    listen 127.0.0.1:${port};
    location ~ ^/(img|private)/ {
      proxy_pass ${origin};
      proxy_cache darkroom;
      proxy_cache_key $scheme$proxy_host$request_uri$darkroom_format;
      proxy_set_header Accept $darkroom_accept;
      proxy_ignore_headers Vary;
      add_header X-Cache-Status $upstream_cache_status always;
    }
  }
}
`;
}

let stack: TestStack;
let nginx: ChildProcess;
let nginxLog = '';
let dir: string;
let cdn: string;
const images: { public?: string; private?: string } = {};
const urls: { public?: string; private?: string } = {};

/** Waits until nginx answers on its port (or fails with its output). */
async function waitForNginx(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await fetch(url);
      return;
    } catch {
      if (Date.now() > deadline || nginx.exitCode !== null) {
        throw new Error(`nginx did not start:\n${nginxLog}\n${fs.readFileSync(`${dir}/error.log`, 'utf8')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function uploadPhoto(visibility: 'public' | 'private'): Promise<string> {
  const bytes = fs.readFileSync(PHOTO);
  const intent = await stack.call('POST', '/v1/uploads', {
    as: 'ari',
    body: { filename: 'p.jpg', contentType: 'image/jpeg', size: bytes.length, visibility },
  });
  const { image, upload } = intent.json as {
    image: { id: string };
    upload: { url: string; headers: Record<string, string> };
  };
  const put = await fetch(upload.url, {
    method: 'PUT',
    body: new Uint8Array(bytes),
    headers: upload.headers,
  });
  expect(put.status).toBe(200);
  return image.id;
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-nginx-'));
  const port = await freePort();
  cdn = `http://127.0.0.1:${port}`;
  // The API hands out URLs on the cache, as it would with CloudFront: signatures name the cache's host.
  stack = await startTestStack({
    DARKROOM_CDN_BASE_URL: cdn,
    // One variant in three formats, so its URL negotiates on Accept.
    DARKROOM_VARIANTS: 'thumb:320:jpeg+webp+avif',
  });
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(conf, nginxConf(dir, port, `http://127.0.0.1:${stack.config.port}`));
  nginx = spawn(NGINX, ['-p', dir, '-e', `${dir}/error.log`, '-c', conf], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  nginx.stdout!.on('data', (d: Buffer) => (nginxLog += d.toString()));
  nginx.stderr!.on('data', (d: Buffer) => (nginxLog += d.toString()));
  await waitForNginx(`${cdn}/img/x/y`);

  images.public = await uploadPhoto('public');
  images.private = await uploadPhoto('private');
  for (const v of ['public', 'private'] as const) {
    const image = await stack.waitSettled('ari', images[v]!);
    urls[v] = (image.variants as Record<string, { url: string }>).thumb!.url;
  }
}, 60_000);

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx.once('exit', r));
    nginx.kill('SIGTERM');
    await exited;
  }
  await stack?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Fetches `url` twice through the cache; returns both responses' status, cache status and headers. */
async function twice(url: string, headers: Record<string, string> = {}) {
  const out = [];
  for (let i = 0; i < 2; i++) {
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    out.push({ status: res.status, cache: res.headers.get('x-cache-status'), headers: res.headers });
  }
  return out as [(typeof out)[0], (typeof out)[0]];
}

describe('nginx proxy_cache in front of the delivery routes', () => {
  it('serves a public variant from the cache the second time', async () => {
    expect(urls.public!.startsWith(`${cdn}/img/`)).toBe(true);
    const [first, second] = await twice(urls.public!);
    expect([first.status, first.cache]).toEqual([200, 'MISS']);
    expect([second.status, second.cache]).toEqual([200, 'HIT']);
    expect(second.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('keys a negotiated variant on the format class, not on the raw Accept header', async () => {
    const chrome = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';
    const firefox = 'image/avif,image/webp,*/*';
    const [avif1, avif2] = await twice(urls.public!, { accept: chrome });
    expect([avif1.cache, avif2.cache]).toEqual(['MISS', 'HIT']);
    expect(avif1.headers.get('content-type')).toBe('image/avif');
    expect(avif1.headers.get('vary')).toBe('Accept');
    // Another browser's Accept string of the same class shares the cached copy.
    const [other] = await twice(urls.public!, { accept: firefox });
    expect([other.cache, other.headers.get('content-type')]).toEqual(['HIT', 'image/avif']);
    const [webp1, webp2] = await twice(urls.public!, { accept: 'image/webp,*/*' });
    expect([webp1.cache, webp2.cache]).toEqual(['MISS', 'HIT']);
    expect(webp2.headers.get('content-type')).toBe('image/webp');
    // A client without AVIF or WebP gets the JPEG entry the first test filled, never another class's.
    const [plain] = await twice(urls.public!, { accept: '*/*' });
    expect([plain.cache, plain.headers.get('content-type')]).toEqual(['HIT', 'image/jpeg']);
  });

  it('never caches a private image served through its signed URL', async () => {
    expect(urls.private!.startsWith(`${cdn}/private/`)).toBe(true);
    const [first, second] = await twice(urls.private!);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.cache).not.toBe('HIT');
    expect(second.headers.get('cache-control')).toMatch(/^private, max-age=\d+$/);
  });

  it('never caches the unsigned private URL (and does not answer it from the signed one)', async () => {
    const [first, second] = await twice(urls.private!.split('?')[0]!);
    expect([first.status, second.status]).toEqual([403, 403]);
    expect(second.cache).not.toBe('HIT');
    expect(second.headers.get('cache-control')).toBe('private, no-store');
  });

  it('never caches a 403 for a tampered signature', async () => {
    const tampered = urls.private!.replace(/Expires=(\d+)/, (_m, n: string) => `Expires=${Number(n) + 1}`);
    const [first, second] = await twice(tampered);
    expect([first.status, second.status]).toEqual([403, 403]);
    expect(second.cache).not.toBe('HIT');
  });

  it('never caches a 404', async () => {
    for (const url of [
      `${cdn}/img/00000000-0000-4000-8000-000000000000/thumb`,
      `${cdn}/img/${images.public}/no-such-variant`,
    ]) {
      const [first, second] = await twice(url);
      expect([first.status, second.status]).toEqual([404, 404]);
      expect(second.cache).not.toBe('HIT');
      expect(second.headers.get('cache-control')).toBe('private, max-age=60');
    }
  });

  it('keeps serving a deleted public image from the cache while the origin says 404 (why a CDN needs invalidation)', async () => {
    expect((await stack.call('DELETE', `/v1/images/${images.public}`, { as: 'ari' })).status).toBe(204);
    const origin = new URL(urls.public!);
    const atOrigin = await fetch(`${stack.api}${origin.pathname}`);
    expect(atOrigin.status).toBe(404);
    const cached = await fetch(urls.public!);
    expect([cached.status, cached.headers.get('x-cache-status')]).toEqual([200, 'HIT']);
  });
});
