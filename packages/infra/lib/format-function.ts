/** Header the viewer-request function sets and the cache policy keys on: `avif`, `webp` or `original`. */
export const FORMAT_HEADER = 'x-darkroom-format';

/** Normalised Accept values sent to the origin, one per format, so forwarding Accept never splits the cache. */
export const NORMALISED_ACCEPT = {
  avif: 'image/avif,image/webp,*/*;q=0.8',
  webp: 'image/webp,*/*;q=0.8',
  original: '*/*',
} as const;

/**
 * Source of the CloudFront Function (cloudfront-js-2.0, viewer request). It runs on every request to the
 * delivery behaviours: it reduces the raw Accept header, which varies per browser version, to one of three
 * values so the cache holds at most three copies of each URL. Kept as plain ES5-ish JavaScript because
 * CloudFront Functions run their own restricted runtime, not Node.
 */
export const FORMAT_FUNCTION_CODE = `function handler(event) {
  var request = event.request;
  var accept = request.headers.accept ? request.headers.accept.value.toLowerCase() : '';
  var format = 'original';
  if (/image\\/avif(?!\\s*;\\s*q=0(\\.0*)?(\\s|,|$))/.test(accept)) {
    format = 'avif';
  } else if (/image\\/webp(?!\\s*;\\s*q=0(\\.0*)?(\\s|,|$))/.test(accept)) {
    format = 'webp';
  }
  var accepts = ${JSON.stringify(NORMALISED_ACCEPT)};
  request.headers['${FORMAT_HEADER}'] = { value: format };
  request.headers.accept = { value: accepts[format] };
  return request;
}
`;
