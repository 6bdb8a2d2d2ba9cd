import { ImageList } from '@darkroom/contract';
import { Type } from 'typebox';
import { listImages } from '../../../domain/uploads.ts';
import { errors } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

/** GET /v1/images — newest first, cursor-paginated. */
export function listImagesRoute(app: App, deps: ApiDeps): void {
  app.get(
    '/v1/images',
    {
      schema: {
        summary: 'List your images',
        description:
          'Newest first. Pass nextCursor back as cursor for the next page; null means the last page.',
        tags: ['images'],
        querystring: Type.Object(
          {
            cursor: Type.Optional(Type.String({ maxLength: 512 })),
            limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: ImageList,
          ...errors(400, 401, 503),
        },
      },
    },
    async (request) => listImages(deps, request.caller.sub, request.query.limit, request.query.cursor),
  );
}
