// Responsive markup from the image JSON, framework-free: `srcset`/`sizes` from the variants, `<source>`s
// for formats not every browser decodes, the box size (so nothing shifts when the pixels arrive) and the
// thumbhash placeholder. `@darkroom/react`'s <DarkroomImage> renders the same attributes.
import type { Image, ImageVariant } from '@darkroom/contract';
import { thumbHashToDataURL } from 'thumbhash';

/** Options of {@link responsiveImage} and the HTML helpers. */
export interface ResponsiveImageOptions {
  /** The `sizes` attribute: how wide the image is laid out. Default `100vw`. */
  sizes?: string;
  /** Width in CSS pixels the `src` fallback (for clients without `srcset`) aims at. Default 1280. */
  fallbackWidth?: number;
}

/** One `<source>` of a `<picture>`: a format some browsers lack, with the variants that may use it. */
export interface PictureSource {
  type: string;
  srcSet: string;
}

/** What an `<img>` (and a `<picture>`) needs; every field is safe to pass as an attribute value. */
export interface ResponsiveImage {
  /** The variant nearest above `fallbackWidth` (else the largest); undefined while there is none. */
  src: string | undefined;
  /** `url 320w, url 1280w, …` of the variants every browser decodes, narrowest first. */
  srcSet: string;
  sizes: string;
  /** The image's pixel size (reserve the box with these: width/height attributes or aspect-ratio). */
  width: number | undefined;
  height: number | undefined;
  /** For `<picture>`: the newer formats first (AVIF, then WebP), each with the variants it may use. */
  sources: PictureSource[];
  /** The thumbhash as a `data:image/png` URL, to show until the image loads. */
  placeholder: string | undefined;
  /** `#rrggbb` to fill the box with; undefined for transparent images (their backdrop shows through). */
  backgroundColor: string | undefined;
  transparent: boolean;
}

/** How widely a format decodes: 0 everywhere, higher = newer. Unknown types count as the newest. */
const SUPPORT_RANK: Readonly<Record<string, number>> = {
  'image/jpeg': 0,
  'image/png': 0,
  'image/gif': 0,
  'image/webp': 1,
  'image/avif': 2,
};
const UNKNOWN_RANK = 3;
const DEFAULT_SIZES = '100vw';
// The size the web app's large view picks: sharp on most laptop screens without sending the 2560 px one.
const DEFAULT_FALLBACK_WIDTH = 1280;
const HEX_COLOUR = /^#[0-9a-f]{6}$/i;

function rankOf(type: string): number {
  return SUPPORT_RANK[type] ?? UNKNOWN_RANK;
}

/** A variant served at one URL in every format it lists: the widest-decoding of them decides. */
function variantRank(v: ImageVariant): number {
  return Math.min(...(v.contentTypes ?? [v.contentType]).map(rankOf));
}

/** A URL as one `srcset` candidate: whitespace and commas would split it. */
function candidateUrl(url: string): string {
  return url.replace(/[\s,]/g, (c) => encodeURIComponent(c));
}

/** `srcset` of `variants`: one per width (the newest format wins a tie), narrowest first. */
function srcSetOf(variants: readonly ImageVariant[]): string {
  const byWidth = new Map<number, ImageVariant>();
  for (const v of variants) {
    const held = byWidth.get(v.width);
    if (!held || variantRank(v) > variantRank(held)) byWidth.set(v.width, v);
  }
  return [...byWidth.values()]
    .sort((a, b) => a.width - b.width)
    .map((v) => `${candidateUrl(v.url)} ${v.width}w`)
    .join(', ');
}

/** A base64 thumbhash as a `data:image/png` URL; undefined when absent or not a thumbhash. */
export function thumbhashDataUrl(thumbhash: string | null | undefined): string | undefined {
  if (!thumbhash) return undefined;
  try {
    const raw = atob(thumbhash);
    const bin = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bin[i] = raw.charCodeAt(i);
    return thumbHashToDataURL(bin);
  } catch {
    return undefined;
  }
}

/**
 * The attributes of a responsive `<img>` for an image JSON (any status: before `ready` only the size and
 * placeholder are known).
 * @example
 * const { src, srcSet, sizes, width, height } = responsiveImage(image, { sizes: '(max-width: 600px) 100vw, 50vw' });
 */
export function responsiveImage(
  image: Pick<Image, 'variants' | 'width' | 'height' | 'thumbhash' | 'dominantColor' | 'transparent'>,
  options: ResponsiveImageOptions = {},
): ResponsiveImage {
  const variants = Object.values(image.variants ?? {}).filter((v) => v.width > 0 && v.height > 0);
  const ranks = variants.map(variantRank);
  const widest = ranks.length > 0 ? Math.min(...ranks) : 0;
  const everywhere = variants.filter((_, i) => ranks[i] === widest);
  // A browser that decodes a newer format decodes the older ones too: its source may use them all.
  const newer = [...new Set(ranks.filter((r) => r > widest))].sort((a, b) => b - a);
  const sources = newer.flatMap((rank) => {
    const types = [
      ...new Set(variants.filter((_, i) => ranks[i] === rank).map((v) => typeWithRank(v, rank))),
    ];
    const srcSet = srcSetOf(variants.filter((_, i) => (ranks[i] as number) <= rank));
    return types.map((type) => ({ type, srcSet }));
  });
  const fallbackWidth = options.fallbackWidth ?? DEFAULT_FALLBACK_WIDTH;
  const bySize = [...everywhere].sort((a, b) => a.width - b.width);
  const fallback = bySize.find((v) => v.width >= fallbackWidth) ?? bySize.at(-1);
  const largest = [...variants].sort((a, b) => b.width - a.width)[0];
  const transparent = image.transparent === true;
  return {
    src: fallback?.url,
    srcSet: srcSetOf(everywhere),
    sizes: options.sizes ?? DEFAULT_SIZES,
    width: image.width ?? largest?.width,
    height: image.height ?? largest?.height,
    sources,
    placeholder: thumbhashDataUrl(image.thumbhash),
    backgroundColor:
      !transparent && image.dominantColor && HEX_COLOUR.test(image.dominantColor)
        ? image.dominantColor
        : undefined,
    transparent,
  };
}

/** The content type of `v` whose rank is `rank` (its primary when none is). */
function typeWithRank(v: ImageVariant, rank: number): string {
  return (v.contentTypes ?? [v.contentType]).find((t) => rankOf(t) === rank) ?? v.contentType;
}

/** Options of {@link imgHtml} and {@link pictureHtml}. */
export interface ImageHtmlOptions extends ResponsiveImageOptions {
  /** Required: describe the picture, or `''` for a decorative one. */
  alt: string;
  className?: string;
  /** Default `lazy`: below-the-fold images wait until they are near the viewport. */
  loading?: 'lazy' | 'eager';
  /** Paint the thumbhash (and dominant colour) behind the image until it loads. Default true. */
  placeholder?: boolean;
}

/** Escapes a string for a double-quoted HTML attribute value. */
export function escapeAttribute(value: string): string {
  return value.replace(/[&"'<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function attributes(list: [string, string | number | undefined][]): string {
  return list
    .filter((pair): pair is [string, string | number] => pair[1] !== undefined && pair[1] !== '')
    .map(([name, value]) => ` ${name}="${escapeAttribute(String(value))}"`)
    .join('');
}

/** The inline style that keeps the box and paints the placeholder; the image covers it once loaded. */
function boxStyle(r: ResponsiveImage, placeholder: boolean): string {
  const style = ['max-width:100%', 'height:auto'];
  if (r.width && r.height) style.push(`aspect-ratio:${r.width}/${r.height}`);
  // A transparent image over its own blurred placeholder would look smudged: it gets none.
  if (placeholder && !r.transparent) {
    if (r.backgroundColor) style.push(`background-color:${r.backgroundColor}`);
    if (r.placeholder) style.push(`background-image:url(${r.placeholder})`, 'background-size:cover');
  }
  return style.join(';');
}

/**
 * A responsive `<img>` for an image JSON, attributes escaped. Before the image is ready its `src` is
 * the placeholder, so the box still shows something.
 * @example
 * element.innerHTML = imgHtml(image, { alt: 'A heron', sizes: '(max-width: 600px) 100vw, 600px' });
 */
export function imgHtml(image: Parameters<typeof responsiveImage>[0], options: ImageHtmlOptions): string {
  return imgFrom(responsiveImage(image, options), options);
}

function imgFrom(r: ResponsiveImage, options: ImageHtmlOptions): string {
  return `<img${attributes([
    ['src', r.src ?? r.placeholder],
    ['srcset', r.srcSet],
    ['sizes', r.srcSet ? r.sizes : undefined],
    ['width', r.width],
    ['height', r.height],
    ['class', options.className],
    ['loading', options.loading ?? 'lazy'],
    ['decoding', 'async'],
    ['style', boxStyle(r, options.placeholder ?? true)],
  ])} alt="${escapeAttribute(options.alt)}">`;
}

/**
 * A `<picture>` for an image JSON: a `<source>` per newer format (AVIF, WebP) when some variants are
 * stored only in it, then the `<img>` of {@link imgHtml}. Attributes escaped.
 */
export function pictureHtml(image: Parameters<typeof responsiveImage>[0], options: ImageHtmlOptions): string {
  const r = responsiveImage(image, options);
  const sources = r.sources
    .map(
      (s) =>
        `<source${attributes([
          ['type', s.type],
          ['srcset', s.srcSet],
          ['sizes', r.sizes],
        ])}>`,
    )
    .join('');
  return `<picture>${sources}${imgFrom(r, options)}</picture>`;
}
