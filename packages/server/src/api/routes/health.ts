import { Registry } from 'prom-client';
import { Type } from 'typebox';
import type { ApiDeps, App } from '../types.ts';

/** GET /healthz (database and storage reachable) and GET /metrics (Prometheus text). */
export function operationalRoutes(app: App, deps: ApiDeps): void {
  app.get(
    '/healthz',
    {
      schema: {
        summary: 'Health: database and storage reachable',
        tags: ['operations'],
        response: {
          200: Type.Object({ status: Type.Literal('ok'), checks: Type.Record(Type.String(), Type.String()) }),
          503: Type.Object({
            status: Type.Literal('unavailable'),
            checks: Type.Record(Type.String(), Type.String()),
          }),
        },
      },
    },
    async (_request, reply) => {
      const check = (p: Promise<unknown>) =>
        p.then(
          () => 'ok',
          (err: unknown) => `unavailable: ${err instanceof Error ? err.message : String(err)}`,
        );
      const [database, storage] = await Promise.all([check(deps.images.ping()), check(deps.storage.ping())]);
      const ok = database === 'ok' && storage === 'ok';
      return reply
        .code(ok ? 200 : 503)
        .send({ status: ok ? 'ok' : 'unavailable', checks: { database, storage } });
    },
  );
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const registry = Registry.merge([deps.metrics.registry, ...(deps.extraRegistries ?? [])]);
    return reply.type(registry.contentType).send(await registry.metrics());
  });
}
