import { ErrorBody, Image } from '@darkroom/contract';
import { guardServer } from '@darkroom/http-guard';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { createDeliveryMetrics } from '../delivery/metrics.ts';
import { createDelivery } from '../delivery/origin.ts';
import { deliveryRoutes } from '../delivery/routes.ts';
import { requestSerializer } from '../log.ts';
import type { Caller, TokenVerifier } from './auth/jwt.ts';
import { handleError } from './error-handler.ts';
import { ApiError } from './errors.ts';
import type { EventHub } from './event-hub.ts';
import { leanServer, requestIds } from './lean-server.ts';
import { eventsRoute } from './routes/events.ts';
import { operationalRoutes } from './routes/health.ts';
import { deleteImageRoute } from './routes/images/delete.ts';
import { getImageRoute } from './routes/images/get.ts';
import { listImagesRoute } from './routes/images/list.ts';
import { s3HooksRoute } from './routes/s3-hooks.ts';
import { abortUploadRoute } from './routes/uploads/abort.ts';
import { completeUploadRoute } from './routes/uploads/complete.ts';
import { createUploadRoute } from './routes/uploads/create.ts';
import { listPartsRoute } from './routes/uploads/list-parts.ts';
import { presignPartsRoute } from './routes/uploads/parts.ts';
import { securityHeaders } from './security-headers.ts';
import type { ApiDeps, App } from './types.ts';
import { strictSchemaController } from './validation.ts';
import { webApp } from './web-app.ts';

/** The whole of an API request (headers and a body of at most 1 MiB) must arrive within this. */
const API_REQUEST_TIMEOUT_MS = 30_000;

/**
 * EventSource cannot send headers, so GET /v1/events alone also takes the token as `access_token`.
 * Nowhere else: query strings end up in logs and caches.
 */
function eventStreamToken(request: FastifyRequest): string | undefined {
  if (request.routeOptions.url !== '/v1/events') return undefined;
  const token = (request.query as { access_token?: unknown }).access_token;
  return typeof token === 'string' ? `Bearer ${token}` : undefined;
}

/** Builds the Darkroom HTTP API (not yet listening). */
export async function buildApi(
  deps: ApiDeps & { verifier: TokenVerifier; hub: EventHub; log: Logger },
): Promise<App> {
  // Delivery is made first: its lean path sits in front of Fastify's router, in the server itself.
  const deliveryMetrics = createDeliveryMetrics(deps);
  const delivery = createDelivery(deps, deliveryMetrics);
  const logger = deps.log.child({}, { serializers: { req: requestSerializer } });
  const genReqId = requestIds();
  const app = Fastify({
    // Fastify's request serializer logs the whole URL; ours redacts tokens and signatures in its query
    // (a child's serializers win over Fastify's defaults, whatever logger the caller passed).
    loggerInstance: logger,
    genReqId,
    serverFactory: (handler) => leanServer(handler, delivery, deps.metrics, logger, genReqId),
    // Upload intents are tiny JSON documents; image bytes never come here.
    bodyLimit: 1024 * 1024,
    // Bodies are validated as typed JSON (no coercion); query strings, paths and headers as text.
    schemaController: strictSchemaController(),
    // The router's own refusals (bad %-encoding, over-long segments) get the API's error shape, without echoing the path.
    frameworkErrors: (err, req, reply) =>
      handleError(new ApiError('invalid_request', `The URL is not valid (${err.code}).`), req, reply),
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  // Timeouts and the per-client connection cap, as on the embedded S3 and SQS servers; API bodies are
  // small JSON documents (1 MiB at most), so the whole request must also arrive within a bound.
  const guard = guardServer(app.server, {
    ...deps.config.connections,
    requestTimeoutMs: API_REQUEST_TIMEOUT_MS,
  });
  app.addHook('onClose', async () => {
    guard.stop();
    delivery.close();
  });

  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    handleError(
      new ApiError('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`),
      request,
      reply,
    ),
  );
  securityHeaders(app, {
    corsOrigins: deps.config.corsOrigins,
    privatePath: deps.config.delivery.privatePath,
  });
  app.addSchema(ErrorBody);
  app.addSchema(Image);

  // One adder per method, route and status, found by a string key: prom-client hashes and checks the
  // labels on every inc() otherwise. Bounded: Node's parser knows a few dozen methods, routes are the
  // declared ones (or 'unmatched'), statuses a few dozen.
  const observed = new Map<string, { add(): void; observe(seconds: number): void }>();
  app.addHook('onResponse', async (request, reply) => {
    const key = `${request.method} ${reply.statusCode} ${request.routeOptions.url ?? 'unmatched'}`;
    let series = observed.get(key);
    if (!series) {
      const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched' };
      const counter = deps.metrics.requests.tally({ ...labels, status: String(reply.statusCode) });
      const histogram = deps.metrics.duration.labels(labels);
      series = { add: () => counter.add(), observe: (seconds) => histogram.observe(seconds) };
      observed.set(key, series);
    }
    series.add();
    series.observe(reply.elapsedTime / 1000);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Darkroom API',
        version: '1',
        description:
          'Upload intents with presigned URLs, and image metadata. Image bytes never pass through this API: they go straight to storage.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
  });
  // The docs page's static files are not logged request by request (the API's own routes are).
  await app.register(swaggerUi, { routePrefix: '/docs', logLevel: 'warn' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  operationalRoutes(app, deps);
  deliveryRoutes(app, deps, delivery, deliveryMetrics);
  s3HooksRoute(app, deps);
  await webApp(app, deps.config, { devTokens: deps.devTokenRoute ?? false });

  // Authenticated routes live in their own encapsulated context, so the auth hook cannot leak out.
  await app.register(async (authed: App) => {
    // Placeholder until the onRequest hook sets it; every route in this context runs after that hook.
    authed.decorateRequest('caller', null as unknown as Caller);
    authed.addHook('onRequest', async (request) => {
      request.caller = await deps.verifier.verify(request.headers.authorization ?? eventStreamToken(request));
    });
    eventsRoute(authed, deps);
    for (const route of [
      createUploadRoute,
      presignPartsRoute,
      listPartsRoute,
      completeUploadRoute,
      abortUploadRoute,
      getImageRoute,
      listImagesRoute,
      deleteImageRoute,
    ]) {
      route(authed, deps);
    }
  });
  return app;
}
