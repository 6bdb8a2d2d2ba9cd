import { CompleteUpload, Image } from '@darkroom/contract';
import { completeUpload } from '../../../domain/uploads.ts';
import { errors, IdParams } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

/** POST /v1/uploads/{id}/complete — finish a multipart upload, or confirm a PUT/POST one. */
export function completeUploadRoute(app: App, deps: ApiDeps): void {
  app.post(
    '/v1/uploads/:id/complete',
    {
      schema: {
        summary: 'Complete an upload',
        description:
          'Multipart: completes it with the parts and their ETags. PUT/POST: checks the object in storage and hands it to processing (for storage without notifications). Idempotent.',
        tags: ['uploads'],
        params: IdParams,
        body: CompleteUpload,
        response: { 200: Image, ...errors(400, 401, 404, 409, 503) },
      },
      // A PUT/POST upload completes with no body at all (curl -X POST, fetch without body).
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => completeUpload(deps, request.caller.sub, request.params.id, request.body.parts),
  );
}
