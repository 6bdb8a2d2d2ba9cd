import { type Static, Type } from 'typebox';
import { IMAGE_ERROR_CODES, type ImageErrorCode } from './errors.ts';

/** An image's life: `pending` (URL issued) → `uploaded` → `processing` → `ready` | `failed`; `deleted`. */
export const ImageStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('uploaded'),
  Type.Literal('processing'),
  Type.Literal('ready'),
  Type.Literal('failed'),
  Type.Literal('deleted'),
]);
export type ImageStatus = Static<typeof ImageStatus>;

/** Public images are delivered to anyone; private ones only with signed URLs. */
export const Visibility = Type.Union([Type.Literal('public'), Type.Literal('private')]);
export type Visibility = Static<typeof Visibility>;

/** One delivered variant of an image. */
export const ImageVariant = Type.Object({
  url: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  contentType: Type.String(),
  contentTypes: Type.Optional(
    Type.Array(Type.String(), { description: 'Formats the URL negotiates between with the Accept header' }),
  ),
});
export type ImageVariant = Static<typeof ImageVariant>;

/** Why a failed image failed: a code from IMAGE_ERROR_CODES and a message its owner can read. */
export const ImageFailure = Type.Object({
  // A string in the schema (old rows may hold codes this build no longer writes), the union in the type.
  code: Type.Unsafe<ImageErrorCode>(Type.String({ enum: [...IMAGE_ERROR_CODES] })),
  message: Type.String(),
});

/** The image JSON every API route, SSE event and webhook carries. */
export const Image = Type.Object(
  {
    id: Type.String(),
    status: ImageStatus,
    filename: Type.String(),
    contentType: Type.String(),
    bytes: Type.Integer(),
    width: Type.Union([Type.Integer(), Type.Null()]),
    height: Type.Union([Type.Integer(), Type.Null()]),
    format: Type.Union([Type.String(), Type.Null()]),
    thumbhash: Type.Union([Type.String(), Type.Null()]),
    dominantColor: Type.Union([Type.String(), Type.Null()], {
      description: "'#rrggbb': the perceptual (OKLab) mean of the visible pixels; null until developed",
    }),
    transparent: Type.Union([Type.Boolean(), Type.Null()], {
      description:
        'Some pixel is not fully opaque: show the image on a light or checkered backdrop, not on dominantColor. Null until developed',
    }),
    visibility: Visibility,
    variants: Type.Record(Type.String(), ImageVariant),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    error: Type.Optional(ImageFailure),
  },
  { $id: 'Image' },
);
export type Image = Static<typeof Image>;

/** GET /v1/images: newest first; pass `nextCursor` back as `cursor`, null on the last page. */
export const ImageList = Type.Object({
  images: Type.Array(Image),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type ImageList = Static<typeof ImageList>;

/** The data of one `status` event of GET /v1/events (Server-Sent Events). */
export const StatusEventData = Type.Object({
  imageId: Type.String(),
  status: ImageStatus,
  at: Type.String({ format: 'date-time' }),
  image: Type.Optional(Image),
});
export type StatusEventData = Static<typeof StatusEventData>;

/** The kinds of webhook Darkroom posts. */
export const WebhookType = Type.Union([
  Type.Literal('image.ready'),
  Type.Literal('image.failed'),
  Type.Literal('image.deleted'),
]);
export type WebhookType = Static<typeof WebhookType>;

/**
 * The JSON body of every webhook (Standard Webhooks' recommended shape). `data` is the image JSON plus its
 * `owner` (the JWT `sub`), or just `{id, owner, status}` for a deleted image.
 */
export const WebhookPayload = Type.Object({
  type: WebhookType,
  /** When the status changed (ISO 8601). */
  timestamp: Type.String({ format: 'date-time' }),
  data: Type.Union([
    Type.Intersect([Image, Type.Object({ owner: Type.String() })]),
    Type.Object({ id: Type.String(), owner: Type.String(), status: ImageStatus }),
  ]),
});
export type WebhookPayload = Static<typeof WebhookPayload>;
