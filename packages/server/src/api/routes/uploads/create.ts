import { CreatedUpload, ExistingUpload, UploadIntent } from '@darkroom/contract';
import { createUploadIntent } from '../../../domain/uploads.ts';
import { errors } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

/** POST /v1/uploads — create an upload intent and get presigned instructions. */
export function createUploadRoute(app: App, deps: ApiDeps): void {
  app.post(
    '/v1/uploads',
    {
      schema: {
        summary: 'Create an upload intent',
        description:
          'Records a pending image and returns how to send its bytes straight to storage (201): a presigned PUT, a presigned POST form, or a multipart upload (default above DARKROOM_MULTIPART_THRESHOLD). When `sha256` is given and one of your ready images of the same visibility already holds those bytes, answers 200 with that image and `existing: true` instead: nothing to upload or process. Send `copy: true` to store a new image all the same.',
        tags: ['uploads'],
        body: UploadIntent,
        response: {
          200: ExistingUpload,
          201: CreatedUpload,
          ...errors(400, 401, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const result = await createUploadIntent(deps, request.caller.sub, request.body);
      return reply.code('existing' in result ? 200 : 201).send(result);
    },
  );
}
