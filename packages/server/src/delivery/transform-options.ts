import type { TransformRequest } from '@darkroom/edge';
import { ApiError } from '../api/errors.ts';

/**
 * The transform grammar (`w_800,h_600,fit_cover,f_webp,q_75`) is parsed by the edge function, the same code
 * at CloudFront and here; the origin checks what only it knows: its size limits against the source.
 */

/** Bounds from the configuration (DARKROOM_TRANSFORM_MAX_*). */
export interface TransformLimits {
  maxWidth: number;
  maxHeight: number;
  maxPixels: number;
}

/**
 * The size the rendering will have at most, from the source's size: a missing side follows the aspect
 * ratio, `inside`/`outside` keep it within/around the box, and nothing is enlarged past the source.
 */
export function outputBound(
  options: Pick<TransformRequest, 'w' | 'h' | 'fit'>,
  source: { width: number; height: number },
): { width: number; height: number } {
  const { width: sw, height: sh } = source;
  let w = options.w || undefined;
  let h = options.h || undefined;
  if (w === undefined && h === undefined) return { width: sw, height: sh };
  if (w === undefined) w = Math.max(1, Math.round(((h as number) * sw) / sh));
  if (h === undefined) h = Math.max(1, Math.round((w * sh) / sw));
  if (options.fit === 'outside') {
    const scale = Math.max(w / sw, h / sh);
    return { width: Math.round(sw * scale), height: Math.round(sh * scale) };
  }
  return { width: w, height: h };
}

/** Throws `invalid_transform` when the options or the result they give from `source` exceed the limits. */
export function checkTransformLimits(
  t: TransformRequest,
  source: { width: number; height: number },
  limits: TransformLimits,
): void {
  const fail = (message: string) => new ApiError('invalid_transform', message);
  if (t.w > limits.maxWidth) throw fail(`w must be an integer from 1 to ${limits.maxWidth}`);
  if (t.h > limits.maxHeight) throw fail(`h must be an integer from 1 to ${limits.maxHeight}`);
  if (t.w && t.h && t.w * t.h > limits.maxPixels) {
    throw fail(`${t.w}x${t.h} is more than ${limits.maxPixels} pixels`);
  }
  const bound = outputBound(t, source);
  if (
    bound.width > limits.maxWidth ||
    bound.height > limits.maxHeight ||
    bound.width * bound.height > limits.maxPixels
  ) {
    throw fail(
      `the result would be ${bound.width}x${bound.height}; the limits are ${limits.maxWidth}x${limits.maxHeight} and ${limits.maxPixels} pixels`,
    );
  }
}
