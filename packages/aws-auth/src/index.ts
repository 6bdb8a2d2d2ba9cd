/**
 * @module AWS request authentication and payload integrity for Darkroom's embedded servers: SigV4
 * verification (Authorization header and presigned URLs), aws-chunked body decoding with chunk and
 * trailer signatures, and S3's additional checksums. Failures are neutral `AwsRequestError`s; each
 * server renders them in its own protocol.
 */
export {
  type ChunkedDecoder,
  type ChunkedDecoderOptions,
  type ChunkedMode,
  createChunkedDecoder,
  isChunkedPayload,
} from './aws-chunked.ts';
export {
  assertChecksumShape,
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumHeader,
  compositeChecksum,
  createHasher,
  findChecksum,
  type Hasher,
  parseChecksumAlgorithm,
} from './checksums.ts';
export { AwsRequestError, type AwsRequestErrorCode } from './errors.ts';
export {
  type AccessKey,
  type PolicySignatureFields,
  parseQuery,
  type SignedRequest,
  type VerifiedAuth,
  type VerifyOptions,
  verifyPolicySignature,
  verifySignature,
} from './sigv4.ts';
