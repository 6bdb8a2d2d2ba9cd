// Darkroom client SDK: process images on the device, upload straight to storage, follow their status.
export { type ClientErrorCode, UploadError } from './errors.ts';
export { checkFiles, DEFAULT_ALLOWED_TYPES, formatBytes } from './restrictions.ts';
export { createMemoryResumeStore, createIndexedDbResumeStore } from './resume-store.ts';
export { fingerprint } from './fingerprint.ts';
export { isAnimated } from './animation.ts';
export { createUploader } from './uploader.ts';
export type * from './types.ts';
