import { ErrorBody } from '@darkroom/contract';
import { Type } from 'typebox';

export const ImageId = Type.String({ format: 'uuid', description: 'Image id' });
export const IdParams = Type.Object({ id: ImageId });

/** Standard error responses, referenced from every route. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorBody]));
}
