import { Image } from '@darkroom/contract';
import { getImage } from '../../../domain/uploads.ts';
import { errors, IdParams } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

/** GET /v1/images/{id}. */
export function getImageRoute(app: App, deps: ApiDeps): void {
  app.get(
    '/v1/images/:id',
    {
      schema: {
        summary: 'Get one of your images',
        tags: ['images'],
        params: IdParams,
        response: { 200: Image, ...errors(401, 404, 503) },
      },
    },
    async (request) => getImage(deps, request.caller.sub, request.params.id),
  );
}
