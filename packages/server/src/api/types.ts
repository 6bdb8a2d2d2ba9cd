import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import type { SignedUrls } from '../delivery/signed-urls.ts';
import type { UploadDeps } from '../domain/uploads.ts';
import type { StorageGateway } from '../storage/gateway.ts';
import type { Caller } from './auth/jwt.ts';
import type { ApiMetrics } from './metrics.ts';

/** The Fastify instance type every route module registers on. */
export type App = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** What the routes need: domain dependencies (as the adapters that provide them) plus metrics. */
export interface ApiDeps extends UploadDeps {
  config: Config;
  /** The storage adapter: the domain's Presigner and ObjectStorage, plus what routes and delivery use. */
  storage: StorageGateway;
  /** Signs private images' variant URLs and verifies them on delivery. */
  signedUrls: SignedUrls;
  metrics: ApiMetrics;
  /** Metrics of other roles in this process (the worker in `darkroom start`), served on /metrics too. */
  extraRegistries?: readonly Registry[];
  /** Puts an S3 event, unchanged, on the uploads queue (POST /v1/hooks/s3). */
  forwardS3Event?: (body: string) => Promise<void>;
  /** Serve GET /dev/token for the web app (`darkroom start` only; see web-app.ts). */
  devTokenRoute?: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set by the auth hook on /v1 routes. */
    caller: Caller;
  }
}
