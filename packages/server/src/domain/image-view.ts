import type { Image, ImageErrorCode } from '@darkroom/contract';
import { DEFAULT_PRIVATE_PATH } from '@darkroom/edge';
import type { ImageRow } from '../db/images.ts';
import type { UrlSigner } from './ports.ts';

/** Another encoding of a variant's pixels, stored beside the primary (`variants/{id}/{name}.{ext}`). */
export interface VariantEncodingRecord {
  /** 'webp' | 'avif' | 'jpeg' | 'png' */
  format: string;
  key: string;
  bytes: number;
  contentType: string;
}

/** A stored variant, as the worker records it. `key`/`bytes`/`contentType` describe the primary format. */
export interface VariantRecord {
  key: string;
  width: number;
  height: number;
  bytes: number;
  contentType: string;
  /** The variant's other formats; the delivery route picks one from the Accept header. */
  alternates?: VariantEncodingRecord[];
}

/**
 * Renders a row for the API; variant URLs live under the CDN base when one is configured. A private
 * image's URLs are under `privatePath` (the CDN's signed-URL behaviour), signed with `signer`; without one
 * (webhooks, which are retried long after any signature would expire) they stay unsigned, and are refused.
 */
export function toImageView(
  row: ImageRow,
  deliveryBaseUrl: string,
  signer: UrlSigner | undefined,
  privatePath: string = DEFAULT_PRIVATE_PATH,
): Image {
  const variants = storedVariants(row);
  const isPrivate = row.visibility === 'private';
  const variantUrl = (name: string) => {
    const url = `${deliveryBaseUrl}${isPrivate ? privatePath : '/img'}/${row.id}/${encodeURIComponent(name)}`;
    return isPrivate && signer ? signer.sign(url) : url;
  };
  return {
    id: row.id,
    status: row.status,
    filename: row.filename,
    contentType: row.content_type,
    bytes: row.bytes ?? row.declared_bytes,
    width: row.width,
    height: row.height,
    format: row.format,
    // The client's placeholder shows until the worker computes one from the real pixels.
    thumbhash: row.thumbhash ?? row.client_thumbhash,
    dominantColor: row.dominant_color,
    transparent: row.transparent === null ? null : row.transparent === 1,
    visibility: row.visibility,
    variants: Object.fromEntries(
      Object.entries(variants).map(([name, v]) => [
        name,
        {
          url: variantUrl(name),
          width: v.width,
          height: v.height,
          bytes: v.bytes,
          contentType: v.contentType,
          ...(v.alternates?.length
            ? { contentTypes: [v.contentType, ...v.alternates.map((a) => a.contentType)] }
            : {}),
        },
      ]),
    ),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    // The worker writes only catalogue codes (IMAGE_ERROR_CODES) into error_code.
    ...(row.error_code
      ? { error: { code: row.error_code as ImageErrorCode, message: row.error_message ?? '' } }
      : {}),
  };
}

/**
 * The variants the worker recorded, as a map without a prototype: names come from request paths, and
 * `constructor` or `__proto__` must find nothing rather than Object's own members.
 */
export function storedVariants(row: Pick<ImageRow, 'variants'>): Readonly<Record<string, VariantRecord>> {
  return Object.assign(Object.create(null) as Record<string, VariantRecord>, JSON.parse(row.variants));
}
