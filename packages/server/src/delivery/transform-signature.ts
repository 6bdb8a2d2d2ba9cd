import { createHmac } from 'node:crypto';

/**
 * The string a transform URL's signature covers: the path from `/img` on, options exactly as written
 * (unencoded). Host and CDN base are left out, so the same signature works at the origin and behind a CDN.
 */
export function transformPath(id: string, options: string): string {
  return `/img/${id}/${options}`;
}

/** `base64url(HMAC-SHA256(secret, "/img/{id}/{options}"))`, unpadded (43 characters). */
export function transformSignature(secret: string, id: string, options: string): string {
  return createHmac('sha256', secret).update(transformPath(id, options)).digest('base64url');
}

/** The signed path of a transform, `/img/{id}/{options}?sig=…`, to put after a delivery base URL. */
export function signTransformPath(secret: string, id: string, options: string): string {
  return `${transformPath(id, options)}?sig=${transformSignature(secret, id, options)}`;
}
