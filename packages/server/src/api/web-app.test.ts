import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { createTokenVerifier } from './auth/jwt.ts';
import type { App } from './types.ts';
import { DEV_USER, devTokenRouteEnabled, webApp, webAppCsp } from './web-app.ts';

const SECRET = 'a-real-secret-0123456789abcdef';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-webapp-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function appWith(env: Record<string, string>, opts: { devTokens: boolean; distDir: string }) {
  const config = loadConfig({ DARKROOM_DATA_DIR: tmp, ...env });
  const app = Fastify() as unknown as App;
  await webApp(app, config, opts);
  await app.ready();
  return { app, config };
}

describe('GET /dev/token is on only when it adds no risk or was asked for', () => {
  it.each([
    ['development secret', {}, true],
    ['a real secret', { DARKROOM_JWT_SECRET: SECRET }, false],
    ['a real secret, opted in', { DARKROOM_JWT_SECRET: SECRET, DARKROOM_DEV_TOKEN_ROUTE: 'true' }, true],
    ['development secret, opted out', { DARKROOM_DEV_TOKEN_ROUTE: 'false' }, false],
    [
      'JWKS only (nothing to sign with)',
      { DARKROOM_JWT_JWKS_URL: 'https://idp.example.com/jwks', DARKROOM_DEV_TOKEN_ROUTE: 'true' },
      false,
    ],
  ])('%s → %s', (_what, env, on) => {
    expect(devTokenRouteEnabled(loadConfig({ DARKROOM_DATA_DIR: tmp, ...env }))).toBe(on);
  });

  it('mints a short-lived token the API accepts, never cached', async () => {
    const { app, config } = await appWith({}, { devTokens: true, distDir: tmp });
    const res = await app.inject('/dev/token');
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json() as { token: string; sub: string; expiresAt: string };
    expect(body.sub).toBe(DEV_USER);
    expect(Date.parse(body.expiresAt) - Date.now()).toBeLessThanOrEqual(3600_000);
    expect(await createTokenVerifier(config.jwt).verify(`Bearer ${body.token}`)).toEqual({ sub: DEV_USER });
    await app.close();
  });

  it('does not exist unless the role asks for it (darkroom api never does)', async () => {
    const { app } = await appWith({}, { devTokens: false, distDir: tmp });
    expect((await app.inject('/dev/token')).statusCode).toBe(404);
    await app.close();
  });
});

describe('serving the built app', () => {
  it('without a build, / says to run npm run build', async () => {
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    const { app } = await appWith({}, { devTokens: false, distDir: empty });
    const res = await app.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('npm run build');
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    await app.close();
  });

  it('serves index.html fresh, hashed assets forever, and nothing it did not build', async () => {
    const dist = fs.mkdtempSync(path.join(tmp, 'dist-'));
    fs.mkdirSync(path.join(dist, 'assets'));
    fs.writeFileSync(path.join(dist, 'index.html'), '<!doctype html><title>app</title>');
    fs.writeFileSync(path.join(dist, 'assets', 'index-abc123.js'), 'export {};');
    const { app } = await appWith({}, { devTokens: false, distDir: dist });
    const index = await app.inject('/');
    expect(index.statusCode).toBe(200);
    expect(index.body).toContain('<title>app</title>');
    expect(index.headers['cache-control']).toBe('no-cache');
    const asset = await app.inject('/assets/index-abc123.js');
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(asset.headers['content-security-policy']).toContain("default-src 'self'");
    expect((await app.inject('/assets/other.js')).statusCode).toBe(404);
    expect((await app.inject('/v1/whatever')).statusCode).toBe(404);
    await app.close();
  });
});

describe('the app CSP', () => {
  it('lets the browser PUT to storage and show variants from the CDN, and nothing else off-origin', () => {
    const embedded = webAppCsp(loadConfig({ DARKROOM_DATA_DIR: tmp, DARKROOM_S3_PORT: '9123' }));
    expect(embedded).toMatch(/connect-src 'self' http:\/\/127\.0\.0\.1:9123/);
    expect(embedded).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(embedded).not.toMatch(/'unsafe-(inline|eval)'/);
    const aws = webAppCsp(
      loadConfig({
        DARKROOM_DATA_DIR: tmp,
        DARKROOM_S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com',
        DARKROOM_CDN_BASE_URL: 'https://cdn.example.com/images',
      }),
    );
    expect(aws).toContain('https://*.amazonaws.com');
    expect(aws).toMatch(/img-src [^;]*https:\/\/cdn\.example\.com/);
  });
});
