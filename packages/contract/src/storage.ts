/** Where originals live: `uploads/{imageId}`, never a name the client chose. Notifications filter on it. */
export const UPLOADS_PREFIX = 'uploads/';
/** Where public images' variants live: `variants/{imageId}/{variant}.{ext}` (transforms under `…/t/`). */
export const VARIANTS_PREFIX = 'variants/';

/** The storage key of an image's original. */
export function originalKey(imageId: string): string {
  return `${UPLOADS_PREFIX}${imageId}`;
}

/** Where private images' variants and transforms live, served only by the signed path: `private/{id}/…`. */
export const PRIVATE_PREFIX = 'private/';

/** The storage prefix under which an image's variants (and transforms) live: private ones apart. */
export function variantPrefix(imageId: string, visibility: 'public' | 'private' = 'public'): string {
  return `${visibility === 'private' ? PRIVATE_PREFIX : VARIANTS_PREFIX}${imageId}/`;
}

/**
 * The object tag an original carries from its upload until the worker has developed it; the bucket's
 * lifecycle rule (the CDK stack's, or one set by hand) expires originals that still carry it. One fixed
 * value: the server writes and clears exactly this tag, so the rule must filter on exactly this tag.
 */
export const UNPROCESSED_TAG = { key: 'darkroom-state', value: 'unprocessed' } as const;
