import type { VariantRecord } from '../domain/image-view.ts';

/**
 * The normalised format choice, and the only thing a cache should key on for a negotiated variant:
 * `avif` and `webp` name those encodings; `original` is the variant's fallback encoding (its first
 * listed JPEG or PNG, else its primary).
 */
export type FormatChoice = 'avif' | 'webp' | 'original';

/** One representation of a variant: the object to stream and what it is. */
export interface Representation {
  choice: FormatChoice;
  key: string;
  bytes: number;
  contentType: string;
}

const AVIF = 'image/avif';
const WEBP = 'image/webp';

/**
 * Reduces an Accept header to the best format class it names explicitly with q > 0: `avif` (every browser
 * that decodes AVIF also decodes WebP), else `webp`, else `original`. Wildcards (`image/*`, `*\/*`)
 * do not count: a client that sends only those (curl, old browsers) gets the fallback format.
 */
export function acceptClass(accept: string | undefined): FormatChoice {
  if (!accept) return 'original';
  let webp = false;
  for (const part of accept.toLowerCase().split(',')) {
    const [type = '', ...params] = part.split(';').map((s) => s.trim());
    if (type !== AVIF && type !== WEBP) continue;
    const q = params.find((p) => p.startsWith('q='));
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue;
    if (type === AVIF) return 'avif';
    webp = true;
  }
  return webp ? 'webp' : 'original';
}

/** The encodings a variant was stored in, the primary first. */
function encodings(record: VariantRecord): { key: string; bytes: number; contentType: string }[] {
  return [record, ...(record.alternates ?? [])];
}

/** Whether the variant has several formats, so its URL negotiates (and answers `Vary: Accept`). */
export function isNegotiated(record: VariantRecord): boolean {
  return (record.alternates?.length ?? 0) > 0;
}

/**
 * Picks the representation for an Accept class: avif > webp > original, falling down when the variant
 * lacks a format. The answer depends on the class alone, never on the rest of the header, so an edge that
 * keys on the class never mixes representations.
 */
export function pickRepresentation(record: VariantRecord, wanted: FormatChoice): Representation {
  const all = encodings(record);
  const find = (type: string) => all.find((e) => e.contentType === type);
  const order: FormatChoice[] = wanted === 'avif' ? ['avif', 'webp'] : wanted === 'webp' ? ['webp'] : [];
  for (const choice of order) {
    const hit = find(choice === 'avif' ? AVIF : WEBP);
    if (hit) return { choice, key: hit.key, bytes: hit.bytes, contentType: hit.contentType };
  }
  const fallback = all.find((e) => e.contentType !== AVIF && e.contentType !== WEBP) ?? record;
  return { choice: 'original', key: fallback.key, bytes: fallback.bytes, contentType: fallback.contentType };
}

/**
 * An explicit `?f=avif|webp|original` on a variant URL (a CDN or an app that negotiated already);
 * `auto`, absent or anything else leaves the choice to the Accept header.
 */
export function requestedFormat(query: unknown): FormatChoice | undefined {
  const f = (query as { f?: unknown } | undefined)?.f;
  return f === 'avif' || f === 'webp' || f === 'original' ? f : undefined;
}
