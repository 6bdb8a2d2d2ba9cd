/**
 * The variant grammar: what a variant may be called and stored as, and the DARKROOM_VARIANTS syntax that
 * configures them. Names become part of storage keys (`variants/{id}/{name}.{ext}`) and delivery URLs
 * (`/img/{id}/{name}`), so the server, the edge function and the CDK stack read them from here.
 */

/** Output encodings a variant may use. All are re-encoded by libvips: no input bytes are copied through. */
export const VARIANT_FORMATS = ['webp', 'avif', 'jpeg', 'png'] as const;
export type VariantFormat = (typeof VARIANT_FORMATS)[number];

/** One configured variant, e.g. `thumb:320` → `{ name: 'thumb', maxDimension: 320, format: 'webp' }`. */
export interface VariantSpec {
  /** `[a-z0-9][a-z0-9_-]*`, at most 32 characters: used in object keys and file names. */
  name: string;
  /** The variant fits inside a `maxDimension` × `maxDimension` box; smaller images are never enlarged. */
  maxDimension: number;
  /** The primary encoding: its object is the one the image JSON's `key`/`bytes`/`contentType` describe. */
  format: VariantFormat;
  /**
   * More encodings of the same pixels (`medium:1280:jpeg+webp+avif` → `alternates: ['webp', 'avif']`),
   * stored beside the primary as `{name}.{ext}` and picked by the delivery routes from the Accept header.
   * Absent when the variant has one format.
   */
  alternates?: readonly VariantFormat[];
  /** Encoder quality 1-100; the encoder's default for the format when absent. */
  quality?: number;
}

/** Each format's Content-Type. */
export const CONTENT_TYPES: Readonly<Record<VariantFormat, string>> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

/** Each format's file extension in storage keys. */
export const FILE_EXTENSIONS: Readonly<Record<VariantFormat, string>> = {
  webp: 'webp',
  avif: 'avif',
  jpeg: 'jpg',
  png: 'png',
};

/** WebP's hard limit is 16383 px a side; keep every format under it so any variant can switch format. */
export const MAX_VARIANT_DIMENSION = 16_383;

export const DEFAULT_VARIANTS: readonly VariantSpec[] = Object.freeze([
  Object.freeze({ name: 'thumb', maxDimension: 320, format: 'webp' as const }),
  Object.freeze({ name: 'medium', maxDimension: 1280, format: 'webp' as const }),
  Object.freeze({ name: 'large', maxDimension: 2560, format: 'webp' as const }),
]);

/** A variant name: lower-case letters, digits, `_` and `-`, starting with a letter or digit, at most 32. */
export const VARIANT_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/**
 * Names that read as on-the-fly transform options (`w_800`, `fit_cover`…) are reserved, so the delivery
 * route tells `/img/{id}/{variant}` from `/img/{id}/{options}` by the path alone, before any lookup.
 */
export const RESERVED_VARIANT_NAME = /^(w|h|f|q|fit)_/;
const INT_RE = /^[0-9]+$/;

/** Every format a variant is stored in, the primary first. */
export function variantFormats(spec: VariantSpec): readonly VariantFormat[] {
  return spec.alternates ? [spec.format, ...spec.alternates] : [spec.format];
}

/**
 * Parses `DARKROOM_VARIANTS`: comma-separated `name:maxDimension[:format[+format…][:quality]]`, e.g.
 * `thumb:320,medium:1280,large:2560`, `thumb:320:webp,hero:2560:avif:55` or `medium:1280:jpeg+webp+avif`
 * (several formats of the same pixels, the first one primary; the quality, when given, applies to each).
 * Names starting with `w_`, `h_`, `f_`, `q_` or `fit_` are reserved for transforms. Whitespace around entries is
 * ignored. Unset or blank → {@link DEFAULT_VARIANTS}. Throws an `Error` naming the bad entry.
 */
export function parseVariants(text: string | undefined): readonly VariantSpec[] {
  if (text === undefined || text.trim() === '') return DEFAULT_VARIANTS;
  const out: VariantSpec[] = [];
  const seen = new Set<string>();
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    const bad = (why: string): Error =>
      new Error(
        `DARKROOM_VARIANTS: bad entry "${entry}": ${why} (expected name:maxDimension[:format[+format…][:quality]])`,
      );
    if (entry === '') throw bad('empty entry');
    const parts = entry.split(':');
    if (parts.length < 2 || parts.length > 4) throw bad('wrong number of ":"-separated fields');
    const [name = '', size = '', format = 'webp', quality] = parts;
    if (!VARIANT_NAME.test(name)) throw bad('name must match [a-z0-9][a-z0-9_-]* (at most 32 characters)');
    if (RESERVED_VARIANT_NAME.test(name))
      throw bad('names starting w_, h_, f_, q_ or fit_ are reserved for transforms');
    if (seen.has(name)) throw bad(`duplicate variant name "${name}"`);
    if (!INT_RE.test(size)) throw bad('maxDimension must be a positive integer');
    const maxDimension = Number(size);
    if (maxDimension < 1 || maxDimension > MAX_VARIANT_DIMENSION) {
      throw bad(`maxDimension must be between 1 and ${MAX_VARIANT_DIMENSION}`);
    }
    const formats = format.split('+');
    for (const f of formats) {
      if (!(VARIANT_FORMATS as readonly string[]).includes(f)) {
        throw bad(`format must be one of ${VARIANT_FORMATS.join(', ')} (or several joined with "+")`);
      }
    }
    if (new Set(formats).size !== formats.length) throw bad('a format is listed twice');
    const [primary, ...alternates] = formats as VariantFormat[];
    const spec: VariantSpec = { name, maxDimension, format: primary as VariantFormat };
    if (alternates.length > 0) spec.alternates = Object.freeze(alternates);
    if (quality !== undefined) {
      if (!INT_RE.test(quality) || Number(quality) < 1 || Number(quality) > 100) {
        throw bad('quality must be an integer from 1 to 100');
      }
      spec.quality = Number(quality);
    }
    seen.add(name);
    out.push(Object.freeze(spec));
  }
  return Object.freeze(out);
}

/** Validates a spec built in code rather than parsed (the name becomes part of a file path). */
export function assertValidVariant(spec: VariantSpec): void {
  const formats = variantFormats(spec);
  const ok =
    VARIANT_NAME.test(spec.name) &&
    !RESERVED_VARIANT_NAME.test(spec.name) &&
    formats.every((f) => (VARIANT_FORMATS as readonly string[]).includes(f)) &&
    new Set(formats).size === formats.length &&
    Number.isInteger(spec.maxDimension) &&
    spec.maxDimension >= 1 &&
    spec.maxDimension <= MAX_VARIANT_DIMENSION &&
    (VARIANT_FORMATS as readonly string[]).includes(spec.format) &&
    (spec.quality === undefined ||
      (Number.isInteger(spec.quality) && spec.quality >= 1 && spec.quality <= 100));
  if (!ok) throw new TypeError(`invalid variant spec ${JSON.stringify(spec)}`);
}

/** The fit-inside, never-enlarge rule libvips applies, for callers (and tests) that need sizes up front. */
export function fitInside(
  width: number,
  height: number,
  maxDimension: number,
): { width: number; height: number } {
  if (width <= maxDimension && height <= maxDimension) return { width, height };
  if (width >= height) {
    return { width: maxDimension, height: Math.max(1, Math.round((height * maxDimension) / width)) };
  }
  return { width: Math.max(1, Math.round((width * maxDimension) / height)), height: maxDimension };
}
