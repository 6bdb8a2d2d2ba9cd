import { UploadError } from '../errors.ts';
import { browserProcessor } from '../process-browser.ts';
import { createIndexedDbResumeStore, createMemoryResumeStore } from '../resume-store.ts';
import { xhrTransport } from '../transport-browser.ts';
import type { Platform } from './platform.ts';

function noPaths(): never {
  throw new UploadError('file_unreadable', 'A browser has no file paths: pass a File or Blob.');
}

/**
 * Browsers: XMLHttpRequest (fetch reports no upload progress), the Web Worker processor (no TIFF decoder
 * in Chromium or Firefox, so nothing to convert), resume records in IndexedDB where it exists.
 */
export const platform: Platform = {
  transport: xhrTransport,
  processor: async () => browserProcessor(),
  convertTypes: [],
  resumeStore: () => (globalThis.indexedDB ? createIndexedDbResumeStore() : createMemoryResumeStore()),
  openPath: async () => noPaths(),
  absolutePath: noPaths,
};
