/** What the CDN may keep forever: variant and transform keys never change content. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';
/** Misses and not-yet-ready images are cached briefly, so an edge does not pin a 404 for long. */
export const SHORT = 'public, max-age=60';
