import { deleteImage } from '../../../domain/uploads.ts';
import { errors, IdParams } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

/** DELETE /v1/images/{id} — the original, every variant, then the record. */
export function deleteImageRoute(app: App, deps: ApiDeps): void {
  app.delete(
    '/v1/images/:id',
    {
      schema: {
        summary: 'Delete one of your images',
        description: 'Removes the original and every variant from storage, then the record.',
        tags: ['images'],
        params: IdParams,
        response: { 204: { type: 'null', description: 'Deleted' }, ...errors(401, 404, 503) },
      },
    },
    async (request, reply) => {
      await deleteImage(deps, request.caller.sub, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
