import { type Processor, prepare } from './prepare.ts';
import { fileName, fileType } from './restrictions.ts';
import type { PrepareResult, ProcessOptions } from './types.ts';

function inBrowser(): boolean {
  return typeof window !== 'undefined' || typeof XMLHttpRequest !== 'undefined';
}

/** This runtime's image processor: the Web Worker in browsers, sharp in Node (undefined without it). */
export function defaultProcessor(): Promise<Processor | undefined> {
  return inBrowser()
    ? import('./process-browser.ts').then((m) => m.browserProcessor())
    : import('./process-node.ts').then((m) => m.nodeProcessor());
}

/**
 * Types outside the accepted list that this runtime's processor decodes, so they can be converted before
 * upload: TIFF through sharp in Node; none in browsers, where Chromium and Firefox cannot decode TIFF.
 */
export function defaultConvertTypes(): readonly string[] {
  return inBrowser() ? [] : ['image/tiff'];
}

/**
 * Processes one image exactly as `upload()` would before sending it (resize, re-encode, hash,
 * thumbhash, or keep the original and say why), without uploading anything: previews, benchmarks.
 */
export async function prepareImage(
  file: Blob,
  options: ProcessOptions | false = {},
  contentType: string = fileType(file, fileName(file)),
): Promise<{ blob: Blob; contentType: string; result: PrepareResult }> {
  return prepare(file, contentType, options, options === false ? undefined : await defaultProcessor());
}
