/**
 * @module Darkroom's embedded S3-compatible server: buckets, objects, multipart, POST policies, tagging,
 * CORS and SQS-style event notifications over a filesystem store, with SigV4 auth and S3's XML errors.
 * The application starts it with `createS3Server(options)` and hands it a `NotificationSender` for events.
 */
export { encodeEventKey, type NotificationSender } from './notifications.ts';
export {
  type CreateS3ServerOptions,
  createS3Server,
  type EmbeddedS3Server,
  S3_MAX_OBJECT_BYTES,
} from './server.ts';
