import { platform } from '#platform';
import { prepare } from './prepare.ts';
import { fileName, fileType } from './restrictions.ts';
import type { PrepareResult, ProcessOptions } from './types.ts';

/**
 * Processes one image exactly as `upload()` would before sending it (resize, re-encode, hash,
 * thumbhash, or keep the original and say why), without uploading anything: previews, benchmarks.
 */
export async function prepareImage(
  file: Blob,
  options: ProcessOptions | false = {},
  contentType: string = fileType(file, fileName(file)),
): Promise<{ blob: Blob; contentType: string; result: PrepareResult }> {
  return prepare(file, contentType, options, options === false ? undefined : await platform.processor());
}
