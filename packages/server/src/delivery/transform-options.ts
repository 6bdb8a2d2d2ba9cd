/**
 * The on-the-fly transform grammar: `/img/{id}/{options}` where options are comma-separated `key_value`
 * tokens, e.g. `w_800,h_600,fit_cover,f_webp,q_75`. Parsing is strict so one rendering has one canonical
 * spelling: unknown keys, repeated keys, non-canonical numbers (`w_0800`) and out-of-range values are
 * refused rather than guessed at.
 */

export const TRANSFORM_FITS = ['cover', 'contain', 'fill', 'inside', 'outside'] as const;
export type TransformFit = (typeof TRANSFORM_FITS)[number];
export const TRANSFORM_FORMATS = ['webp', 'avif', 'jpeg', 'png', 'auto'] as const;
export type TransformFormat = (typeof TRANSFORM_FORMATS)[number];

/** Parsed options, defaults filled in: `fit` inside, `f` auto (negotiated), `q` the encoder's default. */
export interface TransformOptions {
  width?: number;
  height?: number;
  fit: TransformFit;
  format: TransformFormat;
  quality?: number;
}

/** Bounds from the configuration (DARKROOM_TRANSFORM_MAX_*). */
export interface TransformLimits {
  maxWidth: number;
  maxHeight: number;
  maxPixels: number;
}

/** A transform the origin refuses to render; the route answers 400 `invalid_transform`. */
export class InvalidTransform extends Error {
  override readonly name = 'InvalidTransform';
}

const KEYS = ['w', 'h', 'fit', 'f', 'q'] as const;
type Key = (typeof KEYS)[number];
const INT_RE = /^[1-9][0-9]{0,5}$/;

/**
 * Whether a path segment is transform options rather than a variant name: its first token starts with a
 * transform key (variant names of that shape are refused by DARKROOM_VARIANTS, so the two never clash).
 */
export function looksLikeTransform(segment: string): boolean {
  return /^(w|h|f|q|fit)_/.test(segment);
}

function int(key: string, value: string, max: number): number {
  if (!INT_RE.test(value) || Number(value) > max) {
    throw new InvalidTransform(`${key} must be an integer from 1 to ${max}, written without leading zeros`);
  }
  return Number(value);
}

function oneOf<T extends string>(key: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InvalidTransform(`${key} must be one of ${allowed.join(', ')}`);
  }
  return value as T;
}

/** Parses and checks an options segment against the limits; throws {@link InvalidTransform}. */
export function parseTransform(segment: string, limits: TransformLimits): TransformOptions {
  const seen = new Set<Key>();
  const out: TransformOptions = { fit: 'inside', format: 'auto' };
  for (const token of segment.split(',')) {
    const sep = token.indexOf('_');
    const key = (sep > 0 ? token.slice(0, sep) : token) as Key;
    const value = sep > 0 ? token.slice(sep + 1) : '';
    if (!KEYS.includes(key)) throw new InvalidTransform(`unknown option "${token}" (known: w, h, fit, f, q)`);
    if (seen.has(key)) throw new InvalidTransform(`option ${key} is given twice`);
    seen.add(key);
    switch (key) {
      case 'w':
        out.width = int('w', value, limits.maxWidth);
        break;
      case 'h':
        out.height = int('h', value, limits.maxHeight);
        break;
      case 'fit':
        out.fit = oneOf('fit', value, TRANSFORM_FITS);
        break;
      case 'f':
        out.format = oneOf('f', value, TRANSFORM_FORMATS);
        break;
      case 'q':
        out.quality = int('q', value, 100);
        break;
    }
  }
  if (out.width !== undefined && out.height !== undefined && out.width * out.height > limits.maxPixels) {
    throw new InvalidTransform(`${out.width}x${out.height} is more than ${limits.maxPixels} pixels`);
  }
  return out;
}

/**
 * The canonical spelling of parsed options, every key in a fixed order with defaults written out
 * (`w_800,fit_inside,f_webp`): two URLs that mean the same rendering share it, and so share a stored result.
 */
export function canonicalTransform(options: TransformOptions): string {
  return [
    options.width !== undefined ? `w_${options.width}` : undefined,
    options.height !== undefined ? `h_${options.height}` : undefined,
    `fit_${options.fit}`,
    `f_${options.format}`,
    options.quality !== undefined ? `q_${options.quality}` : undefined,
  ]
    .filter((t) => t !== undefined)
    .join(',');
}

/**
 * The size the rendering will have at most, from the source's size: a missing side follows the aspect
 * ratio, `inside`/`outside` keep it within/around the box, and nothing is enlarged past the source.
 */
export function outputBound(
  options: TransformOptions,
  source: { width: number; height: number },
): { width: number; height: number } {
  const { width: sw, height: sh } = source;
  let w = options.width;
  let h = options.height;
  if (w === undefined && h === undefined) return { width: sw, height: sh };
  if (w === undefined) w = Math.max(1, Math.round(((h as number) * sw) / sh));
  if (h === undefined) h = Math.max(1, Math.round((w * sh) / sw));
  if (options.fit === 'outside') {
    const scale = Math.max(w / sw, h / sh);
    return { width: Math.round(sw * scale), height: Math.round(sh * scale) };
  }
  return { width: w, height: h };
}
