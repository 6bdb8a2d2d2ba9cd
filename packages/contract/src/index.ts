/**
 * @module Darkroom's contract: every wire shape (TypeBox schemas and their static types), the error-code
 * catalogue and the constants server, client, web app and infrastructure must agree on. Each is defined
 * here once; the others import it.
 */
export {
  API_ERRORS,
  type ApiErrorCode,
  ErrorBody,
  IMAGE_ERROR_CODES,
  type ImageErrorCode,
} from './errors.ts';
export {
  Image,
  ImageFailure,
  ImageList,
  ImageStatus,
  ImageVariant,
  StatusEventData,
  Visibility,
  WebhookPayload,
  WebhookType,
} from './image.ts';
export { deadLetterQueueName, UPLOADS_QUEUE_NAME } from './queue.ts';
export {
  originalKey,
  PRIVATE_PREFIX,
  UNPROCESSED_TAG,
  UPLOADS_PREFIX,
  VARIANTS_PREFIX,
  variantPrefix,
} from './storage.ts';
export {
  ACCEPTED_UPLOAD_TYPES,
  CompleteUpload,
  CreatedUpload,
  ExistingUpload,
  MultipartUpload,
  PartsRequest,
  PartUrl,
  PartUrls,
  PostUpload,
  PutUpload,
  StoredParts,
  UploadInstructions,
  UploadIntent,
  type UploadIntentAnswer,
  UploadMethod,
} from './uploads.ts';
export {
  assertValidVariant,
  CONTENT_TYPES,
  DEFAULT_VARIANTS,
  FILE_EXTENSIONS,
  fitInside,
  MAX_VARIANT_DIMENSION,
  parseVariants,
  RESERVED_VARIANT_NAME,
  VARIANT_FORMATS,
  VARIANT_NAME,
  type VariantFormat,
  type VariantSpec,
  variantFormats,
} from './variants.ts';
