import { Type } from 'typebox';
import { API_ERRORS, type ApiErrorCode } from './errors.ts';

/** `{ error: { code, message } }`, the shape of every API error; `code` is one of the catalogue's. */
export const ErrorBody = Type.Object(
  {
    error: Type.Object({
      code: Type.Enum(Object.keys(API_ERRORS) as ApiErrorCode[], { description: 'Stable error code' }),
      message: Type.String(),
    }),
  },
  { $id: 'Error' },
);

export const ImageId = Type.String({ format: 'uuid', description: 'Image id' });
export const IdParams = Type.Object({ id: ImageId });

const Variant = Type.Object({
  url: Type.String(),
  width: Type.Integer(),
  height: Type.Integer(),
  bytes: Type.Integer(),
  contentType: Type.String(),
  contentTypes: Type.Optional(
    Type.Array(Type.String(), { description: 'Formats the URL negotiates between with the Accept header' }),
  ),
});

export const Status = Type.Union([
  Type.Literal('pending'),
  Type.Literal('uploaded'),
  Type.Literal('processing'),
  Type.Literal('ready'),
  Type.Literal('failed'),
  Type.Literal('deleted'),
]);

/** The image JSON (see domain/image-view.ts). */
export const Image = Type.Object(
  {
    id: Type.String(),
    status: Status,
    filename: Type.String(),
    contentType: Type.String(),
    bytes: Type.Integer(),
    width: Type.Union([Type.Integer(), Type.Null()]),
    height: Type.Union([Type.Integer(), Type.Null()]),
    format: Type.Union([Type.String(), Type.Null()]),
    thumbhash: Type.Union([Type.String(), Type.Null()]),
    dominantColor: Type.Union([Type.String(), Type.Null()]),
    visibility: Type.Union([Type.Literal('public'), Type.Literal('private')]),
    variants: Type.Record(Type.String(), Variant),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    error: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() })),
  },
  { $id: 'Image' },
);

/** Standard error responses, referenced from every route. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]));
}
