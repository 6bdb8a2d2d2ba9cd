import type { Uploader, UploaderOptions } from './types.ts';

/** Creates an uploader bound to one API endpoint and token. */
export function createUploader(_options: UploaderOptions): Uploader {
  throw new Error('not implemented yet');
}
