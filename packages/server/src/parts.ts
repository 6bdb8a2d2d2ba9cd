/**
 * The API's and the worker's building blocks, for measuring them alone (the benchmarks in bench/): the
 * token verifier, the configuration, the database and its image repository, the storage gateway and its
 * S3 clients, the develop step and the transform-URL signature. `@darkroom/server/parts` is the one entry
 * into the server's code from outside it; re-exports only, so what is measured is what the server runs.
 */
export { createTokenVerifier } from './api/auth/jwt.ts';
export { loadConfig } from './config.ts';
export { openDatabase } from './db/connect.ts';
export { ImageRepository, newImageRow } from './db/images.ts';
export { signTransformPath } from './delivery/transform-signature.ts';
export { DEFAULT_LIMITS, developImage } from './pipeline/index.ts';
export { StorageGateway } from './storage/gateway.ts';
export { createS3Clients } from './storage/s3-client.ts';
