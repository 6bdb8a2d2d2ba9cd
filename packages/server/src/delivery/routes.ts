import { EDGE_ORIGIN_PATH, EDGE_REQUEST_HEADER } from '@darkroom/edge';
import { Type } from 'typebox';
import { ApiError } from '../api/errors.ts';
import type { ApiDeps, App } from '../api/types.ts';
import { NO_STORE, SHORT } from './cache-policy.ts';
import type { DeliveryMetrics } from './metrics.ts';
import type { Delivery } from './origin.ts';

const Params = Type.Object({ id: Type.String({ maxLength: 64 }), variant: Type.String({ maxLength: 64 }) });

/**
 * GET/HEAD /img/{id}/{variant}, {privatePath}/{id}/{variant} and their transforms: the delivery routes, which
 * decide like the CloudFront Function and serve like S3 (strong ETag, Range, conditional requests, immutable
 * cache policy). And /_edge/{key}: what CloudFront's origin group asks the API for when S3 lacks a key.
 */
export function deliveryRoutes(app: App, deps: ApiDeps, delivery: Delivery, metrics: DeliveryMetrics): void {
  app.register(async (scope) => {
    // One hook for every delivery response: errors are never cached by a shared cache (refusals by nobody),
    // and each response is counted once, whatever path produced it.
    scope.addHook('onSend', async (_request, reply, payload) => {
      if (reply.statusCode >= 400) reply.header('cache-control', reply.statusCode === 403 ? NO_STORE : SHORT);
      metrics.responses.inc({ status: String(reply.statusCode) });
      return payload;
    });
    scope.route({
      method: ['GET', 'HEAD'],
      url: '/img/:id/:variant',
      schema: {
        summary: 'Deliver a public variant, or a signed transform (`?sig=`)',
        tags: ['delivery'],
        params: Params,
        security: [],
      },
      handler: (request, reply) => delivery.deliver(request, reply, request.url),
    });
    scope.route({
      method: ['GET', 'HEAD'],
      url: `${deps.config.delivery.privatePath}/:id/:variant`,
      schema: {
        summary: "Deliver a private image's variant or transform through the signed URL the API returned",
        tags: ['delivery'],
        params: Params,
        security: [],
      },
      handler: (request, reply) => delivery.deliver(request, reply, request.url),
    });
    // Any other shape under the delivery paths gets the function's own refusal, as at the edge.
    for (const prefix of ['/img', deps.config.delivery.privatePath]) {
      scope.route({
        method: ['GET', 'HEAD'],
        url: `${prefix}/*`,
        schema: { hide: true },
        handler: (request, reply) => delivery.deliver(request, reply, request.url),
      });
    }
    scope.route({
      method: ['GET', 'HEAD'],
      url: `${EDGE_ORIGIN_PATH}/*`,
      schema: {
        summary: 'CloudFront failover: render and store a key S3 lacks',
        description: `The viewer's request comes in ${EDGE_REQUEST_HEADER}; it is checked as if sent to the delivery routes.`,
        tags: ['delivery'],
        security: [],
      },
      handler: (request, reply) => {
        const viewer = request.headers[EDGE_REQUEST_HEADER];
        if (typeof viewer !== 'string') {
          throw new ApiError(
            'not_found',
            `${EDGE_ORIGIN_PATH}/ is asked by CloudFront, with ${EDGE_REQUEST_HEADER}`,
          );
        }
        const key = (request.params as { '*': string })['*'];
        return delivery.deliver(request, reply, viewer, key);
      },
    });
  });
}
