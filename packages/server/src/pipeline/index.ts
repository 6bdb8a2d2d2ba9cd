export {
  CONTENT_TYPES,
  DEFAULT_VARIANTS,
  FILE_EXTENSIONS,
  fitInside,
  parseVariants,
  type VariantFormat,
  type VariantSpec,
  variantFormats,
} from '@darkroom/contract';
export {
  configureSharp,
  DEFAULT_LIMITS,
  type DevelopedEncoding,
  type DevelopedImage,
  type DevelopedVariant,
  developImage,
  encodeAs,
  formatsForMimeTypes,
  type PipelineLimits,
} from './develop.ts';
export { isPipelineError, PipelineError, type PipelineErrorCode } from './errors.ts';
export {
  configureImagingSlots,
  imagingSlotsFor,
  imagingSlotUse,
  withImagingSlot,
} from './imaging-slots.ts';
export { Slots, SlotsFull } from './slots.ts';
export { DECODABLE_FORMATS, type DecodableFormat, sniffFormat } from './sniff.ts';
