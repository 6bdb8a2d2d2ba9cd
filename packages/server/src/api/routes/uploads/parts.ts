import { PartsRequest, PartUrls } from '@darkroom/contract';
import { presignParts } from '../../../domain/uploads.ts';
import { errors, IdParams } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

/** POST /v1/uploads/{id}/parts — presign a batch of part URLs, just before they are needed. */
export function presignPartsRoute(app: App, deps: ApiDeps): void {
  app.post(
    '/v1/uploads/:id/parts',
    {
      schema: {
        summary: 'Presign multipart part URLs',
        description: 'Each URL binds its part number and exact length. Ask for up to 100 parts at a time.',
        tags: ['uploads'],
        params: IdParams,
        body: PartsRequest,
        response: {
          200: PartUrls,
          ...errors(400, 401, 404, 409, 503),
        },
      },
    },
    async (request) => presignParts(deps, request.caller.sub, request.params.id, request.body.partNumbers),
  );
}
