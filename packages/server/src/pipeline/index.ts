export {
  configureSharp,
  DEFAULT_LIMITS,
  type DevelopedImage,
  type DevelopedVariant,
  developImage,
  formatsForMimeTypes,
  type PipelineLimits,
} from './develop.ts';
export { isPipelineError, PipelineError, type PipelineErrorCode } from './errors.ts';
export { DECODABLE_FORMATS, type DecodableFormat, sniffFormat } from './sniff.ts';
export {
  CONTENT_TYPES,
  DEFAULT_VARIANTS,
  fitInside,
  parseVariants,
  type VariantFormat,
  type VariantSpec,
} from './variants.ts';
