import { Type } from 'typebox';
import { createUploadIntent } from '../../../domain/uploads.ts';
import { errors } from '../../schemas.ts';
import type { ApiDeps, App } from '../../types.ts';

const body = Type.Object(
  {
    filename: Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[^\\u0000-\\u001f\\u007f]+$',
      description: 'Shown to the owner; never used as a storage key',
    }),
    contentType: Type.String({
      minLength: 3,
      maxLength: 100,
      description: 'Declared MIME type; must be in DARKROOM_ALLOWED_TYPES',
    }),
    size: Type.Integer({ minimum: 1, description: 'Exact size in bytes (the maximum for method post)' }),
    sha256: Type.Optional(
      Type.String({
        minLength: 44,
        maxLength: 64,
        description: 'SHA-256 of the bytes, hex or base64; storage verifies it (put)',
      }),
    ),
    thumbhash: Type.Optional(
      Type.String({
        maxLength: 100,
        pattern: '^[A-Za-z0-9+/=_-]+$',
        description: 'Client-computed ThumbHash (base64)',
      }),
    ),
    visibility: Type.Optional(Type.Union([Type.Literal('public'), Type.Literal('private')])),
    method: Type.Optional(Type.Union([Type.Literal('put'), Type.Literal('post'), Type.Literal('multipart')])),
  },
  { additionalProperties: false },
);

const upload = Type.Union([
  Type.Object({
    method: Type.Literal('put'),
    url: Type.String(),
    headers: Type.Record(Type.String(), Type.String()),
    expiresAt: Type.String(),
  }),
  Type.Object({
    method: Type.Literal('post'),
    url: Type.String(),
    fields: Type.Record(Type.String(), Type.String()),
    expiresAt: Type.String(),
  }),
  Type.Object({
    method: Type.Literal('multipart'),
    uploadId: Type.String(),
    partSize: Type.Integer(),
    partCount: Type.Integer(),
    expiresAt: Type.String(),
  }),
]);

/** POST /v1/uploads — create an upload intent and get presigned instructions. */
export function createUploadRoute(app: App, deps: ApiDeps): void {
  app.post(
    '/v1/uploads',
    {
      schema: {
        summary: 'Create an upload intent',
        description:
          'Records a pending image and returns how to send its bytes straight to storage: a presigned PUT, a presigned POST form, or a multipart upload (default above DARKROOM_MULTIPART_THRESHOLD).',
        tags: ['uploads'],
        body,
        response: {
          201: Type.Object({
            image: Type.Object({ id: Type.String(), status: Type.Literal('pending') }),
            upload,
          }),
          ...errors(400, 401, 413, 415, 429, 503),
        },
      },
    },
    async (request, reply) => {
      const result = await createUploadIntent(deps, request.caller.sub, request.body);
      return reply.code(201).send(result);
    },
  );
}
