/**
 * @module React bindings for Darkroom: `useUpload()` over the SDK's uploader and `<DarkroomImage>` with
 * srcset, sizes, the thumbhash placeholder and no layout shift, below a `<DarkroomProvider>`.
 */
export {
  type DarkroomContextValue,
  DarkroomProvider,
  type DarkroomProviderProps,
  useDarkroom,
} from './context.ts';
export { DarkroomImage, type DarkroomImageProps } from './darkroom-image.ts';
export { type UploadSnapshot, type UseUploadOptions, type UseUploadResult, useUpload } from './use-upload.ts';
