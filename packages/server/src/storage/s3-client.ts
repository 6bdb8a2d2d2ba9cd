import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { type Config, localEndpointHost } from '../config.ts';

/** The S3 endpoint Darkroom talks to: the configured one, or the embedded server at HOST:S3_PORT. */
export function s3Endpoint(config: Config): string {
  if (config.s3.endpoint) return config.s3.endpoint;
  return `http://${localEndpointHost(config)}:${config.s3.port}`;
}

/**
 * SDK clients for Darkroom's storage. `client` does the server's own calls; `presigner` only signs
 * URLs for browsers: it never signs a checksum of an empty body (the SDK's default since 3.729 would
 * make every upload through the URL fail) and uses Transfer Acceleration when configured.
 */
export function createS3Clients(config: Config): { client: S3Client; presigner: S3Client } {
  const key = config.s3.accessKeys[0]!;
  const embedded = config.s3.endpoint === undefined;
  const base: S3ClientConfig = {
    region: config.s3.region,
    forcePathStyle: config.s3.forcePathStyle,
    // Explicit keys for the embedded server or when configured; otherwise the standard AWS chain.
    ...(embedded || config.s3.accessKeySource === 'configured'
      ? { credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey } }
      : {}),
    // On Amazon S3 the SDK picks the host itself (regional, virtual-host, accelerate).
    ...(config.s3.onAws ? {} : { endpoint: s3Endpoint(config) }),
    // Ceph RGW 16 (and stores of unknown age) refuse the SDK's default for streamed bodies, an
    // aws-chunked body with a trailing CRC32 (411 MissingContentLength); checksums are then sent only
    // where an operation requires one, and the store's MD5 ETag still guards every PUT.
    ...(config.s3.provider === 'ceph' || config.s3.provider === 'generic'
      ? { requestChecksumCalculation: 'WHEN_REQUIRED' as const }
      : {}),
  };
  const accelerate = config.s3.accelerate && config.s3.onAws;
  return {
    client: new S3Client(base),
    presigner: new S3Client({
      ...base,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      ...(accelerate ? { useAccelerateEndpoint: true, forcePathStyle: false } : {}),
    }),
  };
}
