import { originalKey, StoredParts } from '@darkroom/contract';
import { ApiError } from '../../errors.ts';
import { errors, IdParams } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

/**
 * GET /v1/uploads/{id}/parts — the parts storage already holds (S3 ListParts), so a client resuming
 * after a crash or a page reload sends only the rest. Storage is the truth, not the client's notes.
 */
export function listPartsRoute(app: App, deps: ApiDeps): void {
  app.get(
    '/v1/uploads/:id/parts',
    {
      schema: {
        summary: 'List the parts of a multipart upload already stored',
        description:
          'For resuming: the plan (partSize, partCount) and the parts storage holds, with their sizes and ETags (pass them to /complete).',
        tags: ['uploads'],
        params: IdParams,
        response: {
          200: StoredParts,
          ...errors(401, 404, 409, 503),
        },
      },
    },
    async (request) => {
      const id = request.params.id;
      const row = await deps.images.findOwned(request.caller.sub, id);
      if (!row || row.status === 'deleted') throw new ApiError('not_found', `no image ${id}`);
      if (row.upload_method !== 'multipart' || !row.multipart_upload_id) {
        throw new ApiError('conflict', `image ${id} is not a multipart upload`);
      }
      if (row.status !== 'pending')
        throw new ApiError('conflict', `image ${id} is ${row.status}, not pending`);
      const parts = await deps.storage.listParts(originalKey(id), row.multipart_upload_id);
      // The record says pending but storage forgot the upload (aborted by the janitor): nothing to resume.
      if (!parts) throw new ApiError('not_found', `the multipart upload of image ${id} no longer exists`);
      return { partSize: row.part_size!, partCount: row.part_count!, parts };
    },
  );
}
