// Darkroom client SDK: process images on the device, upload straight to storage, follow their status.
// The browser entry (export condition `browser`); Node's (node.ts) adds what only Node has.

export { isAnimated } from './animation.ts';
export { type ClientErrorCode, isPermanent, UploadError } from './errors.ts';
export { fingerprint } from './fingerprint.ts';
export {
  escapeAttribute,
  type ImageHtmlOptions,
  imgHtml,
  type PictureSource,
  pictureHtml,
  type ResponsiveImage,
  type ResponsiveImageOptions,
  responsiveImage,
  thumbhashDataUrl,
} from './picture.ts';
export { renameFor } from './prepare.ts';
export { prepareImage } from './processor.ts';
export { checkFiles, DEFAULT_ALLOWED_TYPES, formatBytes } from './restrictions.ts';
export { createIndexedDbResumeStore, createMemoryResumeStore } from './resume-store.ts';
export type { SendRequest, SendResponse, Transport } from './send.ts';
export type * from './types.ts';
export { createUploader } from './uploader.ts';
