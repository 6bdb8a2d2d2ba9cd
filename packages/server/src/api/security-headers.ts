import { EDGE_ORIGIN_PATH } from '@darkroom/edge';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/**
 * Security headers for everything the API process answers (JSON API, /docs, delivery), and CORS limited
 * to DARKROOM_CORS_ORIGINS. Written here rather than with @fastify/helmet and @fastify/cors: a dozen
 * lines of policy, no new dependency, and one place to read what a browser is allowed to do.
 */

/** JSON and errors: nothing may load from them, nobody may frame them. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
/** Swagger UI at /docs: its own scripts and styles (it sets inline styles), the spec from this origin. */
export const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** Delivered images: shown as an image document at most; a sandbox so nothing in them can ever run. */
export const MEDIA_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox";

const ALLOWED_METHODS = 'GET, HEAD, POST, DELETE';
const ALLOWED_HEADERS = new Set(['authorization', 'content-type', 'last-event-id', 'if-none-match', 'range']);
/** Headers a cross-origin page may read from responses (Retry-After on 429s, validators for caching). */
const EXPOSED_HEADERS = 'retry-after, etag, content-length, content-range';

/** Which CSP a response gets, from where it is served and what it is. */
function cspFor(request: FastifyRequest, reply: FastifyReply, delivery: boolean): string {
  const path = request.url.split('?')[0]!;
  if (path === '/docs' || path.startsWith('/docs/')) return DOCS_CSP;
  const type = String(reply.getHeader('content-type') ?? '');
  return delivery ? deliveryCsp(type) : API_CSP;
}

/** The CSP of a delivery response with this Content-Type (none: a 304 or an error without a body type). */
function deliveryCsp(type: string | undefined): string {
  return type?.startsWith('image/') ? MEDIA_CSP : API_CSP;
}

/** The security headers of a delivery response, for the lean path that answers without the hooks below. */
export function deliverySecurityHeaders(contentType: string | undefined): Record<string, string> {
  return {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': deliveryCsp(contentType),
  };
}

/**
 * The headers the hooks below give an API response, for a route that writes its own (the hijacked SSE
 * stream, which no onSend hook sees): without them a page of another allowed origin cannot read it.
 */
export function rawApiHeaders(
  origin: string | undefined,
  corsOrigins: readonly string[],
): Record<string, string> {
  const headers: Record<string, string> = {
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'content-security-policy': API_CSP,
  };
  if (origin !== undefined && corsOrigins.includes(origin)) {
    headers['access-control-allow-origin'] = origin;
    headers['access-control-expose-headers'] = EXPOSED_HEADERS;
  }
  if (corsOrigins.length > 0) headers.vary = 'origin';
  return headers;
}

/** Registers the headers on `app` (root context, so every route and the 404 handler get them). */
export function securityHeaders(
  app: FastifyInstance,
  opts: { corsOrigins: readonly string[]; privatePath: string },
): void {
  const origins = new Set(opts.corsOrigins);
  // The delivery paths: public and private images, and what CloudFront's failover asks for.
  const deliveryPrefixes = ['/img/', `${opts.privatePath}/`, `${EDGE_ORIGIN_PATH}/`];
  const isDelivery = (url: string) => deliveryPrefixes.some((p) => url.startsWith(p));

  // Preflights are answered before routing: no route declares OPTIONS, and a refused origin learns nothing.
  app.addHook('onRequest', async (request, reply) => {
    const origin = request.headers.origin;
    if (request.method !== 'OPTIONS' || origin === undefined) return;
    if (request.headers['access-control-request-method'] === undefined) return;
    reply.header('vary', 'origin, access-control-request-method, access-control-request-headers');
    if (origins.has(origin)) {
      const asked = String(request.headers['access-control-request-headers'] ?? '')
        .split(',')
        .map((h) => h.trim().toLowerCase())
        .filter((h) => h !== '');
      reply
        .header('access-control-allow-origin', origin)
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', asked.filter((h) => ALLOWED_HEADERS.has(h)).join(', '))
        .header('access-control-max-age', '600');
    }
    return reply.code(204).header('cache-control', 'no-store').send();
  });

  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    if (!reply.hasHeader('content-security-policy')) {
      reply.header('content-security-policy', cspFor(request, reply, isDelivery(request.url)));
    }
    // Delivery stays out of CORS: its responses are cached forever by CDNs keyed on the URL alone.
    if (isDelivery(request.url)) return payload;
    const origin = request.headers.origin;
    if (origin !== undefined && origins.has(origin)) {
      reply
        .header('access-control-allow-origin', origin)
        .header('access-control-expose-headers', EXPOSED_HEADERS);
    }
    // API responses differ by Origin whenever CORS is on, so shared caches must key on it.
    if (origins.size > 0) {
      const vary = String(reply.getHeader('vary') ?? '');
      if (!/\borigin\b/i.test(vary)) reply.header('vary', vary ? `${vary}, origin` : 'origin');
    }
    return payload;
  });
}
