import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { type Config, localEndpointHost } from '../config.ts';
import { mintToken } from './auth/jwt.ts';
import type { App } from './types.ts';

/**
 * The web app (the @darkroom/web package, built by Vite into its dist/) served at `/` by the API process,
 * and the development-only `GET /dev/token` it signs in with. Found through the package, wherever npm put it.
 */
export const WEB_DIST = path.join(
  path.dirname(createRequire(import.meta.url).resolve('@darkroom/web/package.json')),
  'dist',
);

/** The fixed user the development token route signs in as. */
export const DEV_USER = 'dev';
/** Development tokens are short-lived: the app asks for a new one before this runs out. */
const DEV_TOKEN_TTL_SECONDS = 3600;

export interface WebAppOptions {
  /** Mint tokens on GET /dev/token (only `darkroom start` asks for it; see devTokenRouteEnabled). */
  devTokens: boolean;
  /** Where the built app lives (tests); default the @darkroom/web package's dist/. */
  distDir?: string;
}

/** The route is on only in `darkroom start`, and only with the public development secret or an explicit opt-in. */
export function devTokenRouteEnabled(config: Config): boolean {
  if (config.jwt.secret === undefined) return false;
  return config.devTokenRoute ?? config.jwt.usingDevSecret;
}

/** An origin from a URL, or undefined when it cannot be parsed. */
function originOf(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * The app's CSP: everything from this origin, no inline script; the browser PUTs straight to storage (so
 * connect-src names it) and shows variants from the CDN; blob:/data: for local previews and thumbhashes;
 * WebAssembly for the SDK's HEIC decoder; workers from this origin (and blob:, which some bundles use).
 */
export function webAppCsp(config: Config): string {
  const storage = config.s3.onAws
    ? 'https://*.amazonaws.com'
    : (originOf(config.s3.endpoint) ?? `http://${localEndpointHost(config)}:${config.s3.port}`);
  const cdn = originOf(config.cdnBaseUrl);
  const media = ["'self'", 'data:', 'blob:', ...(cdn ? [cdn] : [])].join(' ');
  return [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    `img-src ${media}`,
    `connect-src 'self' ${storage}${cdn ? ` ${cdn}` : ''} data: blob:`,
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Darkroom</title></head>
<body><h1>Darkroom</h1>
<p>The web app has not been built. Run <code>npm run build</code> in the repository, then reload this page.</p>
<p>The API is running: see <a href="/docs">/docs</a>.</p></body></html>
`;

/** Registers the app (or a page saying to build it) and, when asked, GET /dev/token. */
export async function webApp(app: App, config: Config, opts: WebAppOptions): Promise<void> {
  const dist = opts.distDir ?? WEB_DIST;
  const csp = webAppCsp(config);
  // Its own context, so the app's CSP (set before the root onSend hook, which keeps it) stays on its routes.
  await app.register(
    async (web: App) => {
      web.addHook('onRequest', async (_request, reply) => {
        reply.header('content-security-policy', csp);
      });

      if (opts.devTokens && config.jwt.secret !== undefined) {
        const secret = config.jwt.secret;
        web.get(
          '/dev/token',
          {
            schema: {
              summary: 'Development only: a short-lived token for the web app',
              description: `Enabled by \`darkroom start\` with the development JWT secret or DARKROOM_DEV_TOKEN_ROUTE=true. Signs in as "${DEV_USER}".`,
              tags: ['development'],
              security: [],
              response: {
                200: Type.Object({ token: Type.String(), sub: Type.String(), expiresAt: Type.String() }),
              },
            },
          },
          async (_request, reply) => {
            const token = await mintToken(secret, {
              sub: DEV_USER,
              ttlSeconds: DEV_TOKEN_TTL_SECONDS,
              ...(config.jwt.issuer === undefined ? {} : { issuer: config.jwt.issuer }),
              ...(config.jwt.audience === undefined ? {} : { audience: config.jwt.audience }),
            });
            reply.header('cache-control', 'no-store');
            return {
              token,
              sub: DEV_USER,
              expiresAt: new Date(Date.now() + DEV_TOKEN_TTL_SECONDS * 1000).toISOString(),
            };
          },
        );
      }

      if (!fs.existsSync(path.join(dist, 'index.html'))) {
        web.get('/', { schema: { hide: true } }, async (_request, reply) =>
          reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(NOT_BUILT),
        );
        return;
      }
      await web.register(fastifyStatic, {
        root: dist,
        prefix: '/',
        // One route per built file, found at start-up: unknown paths keep the API's JSON 404.
        wildcard: false,
        index: ['index.html'],
        schemaHide: true,
        decorateReply: false,
        setHeaders: (reply: FastifyReply, file: string) => {
          // Vite names assets by content hash, so they never change; index.html must be re-read every time.
          const hashed = file.includes(`${path.sep}assets${path.sep}`);
          reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
        },
      });
      // Static files are not worth two log lines each: only their warnings and errors are logged.
    },
    { logLevel: 'warn' },
  );
}
