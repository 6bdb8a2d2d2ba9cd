import { abortUpload } from '../../../domain/uploads.ts';
import { errors, IdParams } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

/** DELETE /v1/uploads/{id} — cancel a pending upload. */
export function abortUploadRoute(app: App, deps: ApiDeps): void {
  app.delete(
    '/v1/uploads/:id',
    {
      schema: {
        summary: 'Cancel a pending upload',
        description: 'Aborts the multipart upload if any, removes bytes already stored and the record.',
        tags: ['uploads'],
        params: IdParams,
        response: { 204: { type: 'null', description: 'Cancelled' }, ...errors(401, 404, 409, 503) },
      },
    },
    async (request, reply) => {
      await abortUpload(deps, request.caller.sub, request.params.id);
      return reply.code(204).send(null);
    },
  );
}
