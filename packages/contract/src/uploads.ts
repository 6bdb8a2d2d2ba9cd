import { type Static, Type } from 'typebox';
import { Image, Visibility } from './image.ts';

/**
 * The image types uploaded as they are: the API's default DARKROOM_ALLOWED_TYPES, what the SDK sends
 * without converting, and what the web app offers. One list, so that none of them accepts a file another
 * refuses (issue 17: the app offered TIFF, which the API refused with a validation string). The worker
 * checks the bytes again, whatever was declared.
 */
export const ACCEPTED_UPLOAD_TYPES: readonly string[] = Object.freeze([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/avif',
  'image/gif',
  'image/heic',
  'image/heif',
]);

/** How bytes travel to storage: a presigned PUT, a presigned POST form, or S3 multipart. */
export const UploadMethod = Type.Union([
  Type.Literal('put'),
  Type.Literal('post'),
  Type.Literal('multipart'),
]);
export type UploadMethod = Static<typeof UploadMethod>;

/** S3's part numbers: 1 to 10,000. */
const PartNumber = Type.Integer({ minimum: 1, maximum: 10_000 });

/** The body of POST /v1/uploads. */
export const UploadIntent = Type.Object(
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
      description: 'Declared MIME type; must be in DARKROOM_ALLOWED_TYPES (default: ACCEPTED_UPLOAD_TYPES)',
    }),
    size: Type.Integer({ minimum: 1, description: 'Exact size in bytes (the maximum for method post)' }),
    sha256: Type.Optional(
      Type.String({
        minLength: 44,
        maxLength: 64,
        description:
          'SHA-256 of the bytes, hex or base64; storage (put) or the worker verifies it. When one of your ready images of the same visibility already holds these bytes, the answer is that image (200) unless `copy` is true',
      }),
    ),
    copy: Type.Optional(
      Type.Boolean({
        description:
          'Store these bytes as a new image even when one of your ready images already holds them (default false)',
      }),
    ),
    thumbhash: Type.Optional(
      Type.String({
        maxLength: 100,
        pattern: '^[A-Za-z0-9+/=_-]+$',
        description: 'Client-computed ThumbHash (base64)',
      }),
    ),
    visibility: Type.Optional(Visibility),
    method: Type.Optional(UploadMethod),
  },
  { additionalProperties: false },
);
export type UploadIntent = Static<typeof UploadIntent>;

/** A presigned PUT: send the bytes to `url` with exactly `headers`. */
export const PutUpload = Type.Object({
  method: Type.Literal('put'),
  url: Type.String(),
  headers: Type.Record(Type.String(), Type.String()),
  expiresAt: Type.String(),
});
export type PutUpload = Static<typeof PutUpload>;

/** A presigned POST form: `fields` first, the file last, to `url`. */
export const PostUpload = Type.Object({
  method: Type.Literal('post'),
  url: Type.String(),
  fields: Type.Record(Type.String(), Type.String()),
  expiresAt: Type.String(),
});
export type PostUpload = Static<typeof PostUpload>;

/** A multipart upload: ask for part URLs (POST …/parts), send the parts, then POST …/complete. */
export const MultipartUpload = Type.Object({
  method: Type.Literal('multipart'),
  uploadId: Type.String(),
  partSize: Type.Integer(),
  partCount: Type.Integer(),
  expiresAt: Type.String(),
});
export type MultipartUpload = Static<typeof MultipartUpload>;

/** How to send an image's bytes straight to storage. */
export const UploadInstructions = Type.Union([PutUpload, PostUpload, MultipartUpload]);
export type UploadInstructions = Static<typeof UploadInstructions>;

/** The 201 of POST /v1/uploads. */
export const CreatedUpload = Type.Object({
  image: Type.Object({ id: Type.String(), status: Type.Literal('pending') }),
  upload: UploadInstructions,
});
export type CreatedUpload = Static<typeof CreatedUpload>;

/**
 * The 200 of POST /v1/uploads: one of the caller's ready images, of the visibility asked for, already
 * holds bytes of the intent's `sha256` (as the worker verified them), so nothing is recorded, uploaded
 * or processed. Its filename is the one it was stored with.
 */
export const ExistingUpload = Type.Object({
  image: Image,
  existing: Type.Literal(true),
});
export type ExistingUpload = Static<typeof ExistingUpload>;

/** What POST /v1/uploads answers: instructions for a new upload (201), or the image already stored (200). */
export type UploadIntentAnswer = CreatedUpload | ExistingUpload;

/** The body of POST /v1/uploads/{id}/parts: up to 100 part numbers at a time. */
export const PartsRequest = Type.Object(
  { partNumbers: Type.Array(PartNumber, { minItems: 1, maxItems: 100 }) },
  { additionalProperties: false },
);
export type PartsRequest = Static<typeof PartsRequest>;

/** One presigned part URL, bound to its exact length. */
export const PartUrl = Type.Object({ partNumber: Type.Integer(), url: Type.String(), size: Type.Integer() });
export type PartUrl = Static<typeof PartUrl>;

/** The 200 of POST /v1/uploads/{id}/parts. */
export const PartUrls = Type.Object({ parts: Type.Array(PartUrl), expiresAt: Type.String() });
export type PartUrls = Static<typeof PartUrls>;

/** The 200 of GET /v1/uploads/{id}/parts: the plan and the parts storage already holds, for resuming. */
export const StoredParts = Type.Object({
  partSize: Type.Integer(),
  partCount: Type.Integer(),
  parts: Type.Array(Type.Object({ partNumber: Type.Integer(), size: Type.Integer(), etag: Type.String() })),
});
export type StoredParts = Static<typeof StoredParts>;

/** The body of POST /v1/uploads/{id}/complete: the parts and their ETags (multipart only). */
export const CompleteUpload = Type.Object(
  {
    parts: Type.Optional(
      Type.Array(
        Type.Object({ partNumber: PartNumber, etag: Type.String({ minLength: 1, maxLength: 100 }) }),
        { maxItems: 10_000 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type CompleteUpload = Static<typeof CompleteUpload>;
