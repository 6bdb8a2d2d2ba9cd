import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AccessKey } from '@darkroom/aws-auth';
import { ACCEPTED_UPLOAD_TYPES, deadLetterQueueName, UPLOADS_QUEUE_NAME } from '@darkroom/contract';
import { DEFAULT_PRIVATE_PATH } from '@darkroom/edge';
import { type ConnectionLimits, DEFAULT_LIMITS } from '@darkroom/http-guard';
import { z } from 'zod';

/** Development credentials; printed at start-up so nobody mistakes them for secrets. */
export const DEV_ACCESS_KEY_ID = 'darkroom-dev';
export const DEV_SECRET_ACCESS_KEY = 'darkroom-dev-secret-change-me';
/** Development JWT secret, used only when neither DARKROOM_JWT_SECRET nor DARKROOM_JWT_JWKS_URL is set. */
export const DEV_JWT_SECRET = 'darkroom-development-jwt-secret-change-me';
/** Signs transform URLs when DARKROOM_TRANSFORM_SECRET is unset (development only; printed at start-up). */
export const DEV_TRANSFORM_SECRET = 'darkroom-development-transform-secret-change-me';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const flag = z.enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' });
const isTrue = (v: string) => v === 'true' || v === '1' || v === 'yes';
const bool = (fallback: boolean) => flag.default(fallback ? 'true' : 'false').transform(isTrue);
const optionalBool = flag.optional().transform((v) => (v === undefined ? undefined : isTrue(v)));
const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()))
  .pipe(z.array(z.string().min(1, 'list items must not be empty')));

/** Every DARKROOM_* variable Darkroom reads, with its default. */
const envSchema = z.object({
  DARKROOM_HOST: z.string().min(1).default('127.0.0.1'),
  DARKROOM_PORT: port(3000),
  DARKROOM_S3_PORT: port(9000),
  DARKROOM_SQS_PORT: port(9324),
  DARKROOM_DATA_DIR: z.string().min(1).default('./data'),
  DARKROOM_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `auto`: readable lines when stdout is a terminal, JSON lines otherwise (files, pipes, log shippers). */
  DARKROOM_LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  DARKROOM_S3_ENDPOINT: z.url().optional(),
  DARKROOM_S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 chars: a-z, 0-9, . and -)')
    .default('darkroom'),
  DARKROOM_S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'expected a region name such as us-east-1')
    .default('us-east-1'),
  /** Default: path style everywhere but on Amazon S3, which prefers virtual hosts. */
  DARKROOM_S3_FORCE_PATH_STYLE: optionalBool,
  DARKROOM_S3_ACCELERATE: bool(false),
  /** Base domain for virtual-host-style addressing on the embedded server: `{bucket}.{domain}`. */
  DARKROOM_S3_DOMAIN: z.string().min(1).default('localhost'),
  DARKROOM_S3_ACCESS_KEY_ID: list.optional(),
  DARKROOM_S3_SECRET_ACCESS_KEY: list.optional(),
  /** Grace period for in-flight requests on SIGTERM before connections are cut. */
  DARKROOM_SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
  /** `sqlite:` path (relative to the working directory) or `postgres://…`; default: SQLite in the data dir. */
  DARKROOM_DATABASE_URL: z
    .string()
    .regex(/^(sqlite:|postgres:\/\/|postgresql:\/\/)/, 'expected sqlite:<path> or postgres://…')
    .optional(),
  DARKROOM_JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  DARKROOM_JWT_JWKS_URL: z.url().optional(),
  DARKROOM_JWT_ISSUER: z.string().min(1).optional(),
  DARKROOM_JWT_AUDIENCE: z.string().min(1).optional(),
  DARKROOM_PUBLIC_BASE_URL: z.url().optional(),
  DARKROOM_CDN_BASE_URL: z.url().optional(),
  /** Origins allowed to upload from a browser (bucket CORS on the embedded server); default: PUBLIC_BASE_URL. */
  DARKROOM_CORS_ORIGINS: list.optional(),
  DARKROOM_MAX_UPLOAD_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .max(5 * 1024 ** 4)
    .default(200 * 1024 ** 2),
  DARKROOM_ALLOWED_TYPES: list
    .pipe(z.array(z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/, 'expected MIME types such as image/jpeg')))
    // The contract's list: the SDK and the web app offer exactly these (issue 17).
    .default([...ACCEPTED_UPLOAD_TYPES]),
  DARKROOM_MULTIPART_THRESHOLD: z.coerce
    .number()
    .int()
    .min(5 * 1024 ** 2)
    .default(64 * 1024 ** 2),
  DARKROOM_MULTIPART_PART_SIZE: z.coerce
    .number()
    .int()
    .min(5 * 1024 ** 2)
    .max(5 * 1024 ** 3)
    .default(8 * 1024 ** 2),
  DARKROOM_PRESIGN_TTL_SECONDS: z.coerce.number().int().min(1).max(604_800).default(600),
  DARKROOM_UPLOADS_PER_MINUTE: z.coerce.number().int().min(1).default(120),
  DARKROOM_MAX_PENDING_UPLOADS: z.coerce.number().int().min(1).default(50),
  /** `amqp(s)://…/<vhost>` = RabbitMQ, `http(s)://…` = an SQS queue URL; unset: the embedded SQS server. */
  DARKROOM_QUEUE_URL: z
    .url()
    .regex(/^(amqps?|https?):\/\//, 'expected an amqp://, amqps://, http:// or https:// URL')
    .optional(),
  /** Alias of DARKROOM_QUEUE_URL for an SQS queue (kept from before the AMQP adapter). */
  DARKROOM_SQS_QUEUE_URL: z.url().optional(),
  /** The uploads queue's name (embedded SQS, RabbitMQ); its dead-letter queue is `<name>-dlq`. */
  DARKROOM_QUEUE_NAME: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,70}$/, 'expected 1-70 letters, digits, - or _')
    .default(UPLOADS_QUEUE_NAME),
  /** Which S3 implementation the endpoint is; default: embedded without an endpoint, aws on amazonaws.com, else generic. */
  DARKROOM_S3_PROVIDER: z.enum(['embedded', 'aws', 'ceph', 'minio', 'generic']).optional(),
  /** Receives before a message moves to the dead-letter queue (embedded queues; on AWS the CDK stack sets it). */
  DARKROOM_MAX_RECEIVE_COUNT: z.coerce.number().int().min(1).max(1000).default(5),
  DARKROOM_VISIBILITY_TIMEOUT_SECONDS: z.coerce.number().int().min(5).max(43_200).default(60),
  /** Images developed at once per worker process; default: the number of cores. */
  DARKROOM_WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(256).optional(),
  DARKROOM_VARIANTS: z.string().min(1).optional(),
  /** A pending upload with no bytes after this long is removed (must outlive presigned URLs). */
  DARKROOM_PENDING_TTL_SECONDS: z.coerce.number().int().min(60).default(86_400),
  /** A standalone `darkroom worker` serves GET /metrics on this port when set. */
  DARKROOM_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  DARKROOM_SWEEP_INTERVAL_SECONDS: z.coerce.number().int().min(1).default(60),
  /**
   * How long the sweep waits for storage's notification of an uploaded original before it puts the image
   * on the queue itself (and how old an original or multipart upload without a record must be before it
   * is removed).
   */
  DARKROOM_NOTIFICATION_GRACE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  DARKROOM_MAX_PIXELS: z.coerce.number().int().min(1).default(80_000_000),
  DARKROOM_WEBHOOK_URL: z.url().optional(),
  DARKROOM_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Shared secret for POST /v1/hooks/s3, where S3-compatible storage without SQS (MinIO, Ceph RGW) posts its events. */
  DARKROOM_S3_WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  DARKROOM_QUOTA_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(10 * 1024 ** 3),
  DARKROOM_TRANSFORM_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
  DARKROOM_TRANSFORM_MAX_WIDTH: z.coerce.number().int().min(1).max(16_384).default(4096),
  DARKROOM_TRANSFORM_MAX_HEIGHT: z.coerce.number().int().min(1).max(16_384).default(4096),
  DARKROOM_TRANSFORM_MAX_PIXELS: z.coerce.number().int().min(1).default(16_777_216),
  /** First renders (transforms, missing formats, fallbacks) at once per API process; default: the number of cores. */
  DARKROOM_RENDER_CONCURRENCY: z.coerce.number().int().min(1).max(256).optional(),
  /** First renders waiting for one of those; the next is refused with 503 render_busy. */
  DARKROOM_RENDER_QUEUE: z.coerce.number().int().min(0).max(10_000).default(32),
  /** CloudFront key pair (public key) id put in signed URLs as Key-Pair-Id. */
  DARKROOM_CLOUDFRONT_KEY_PAIR_ID: z.string().min(1).optional(),
  /** RSA private key that signs private-image URLs: PEM text or a path to a PEM file. */
  DARKROOM_CLOUDFRONT_PRIVATE_KEY: z.string().min(1).optional(),
  /** RSA public key the delivery routes verify with: PEM text or a path; derived from the private key when unset. */
  DARKROOM_CLOUDFRONT_PUBLIC_KEY: z.string().min(1).optional(),
  DARKROOM_SIGNED_URL_TTL_SECONDS: z.coerce.number().int().min(1).max(604_800).default(3600),
  /** Viewer path of private images' signed URLs (`{path}/{id}/{variant}`): the CDK's `privatePathPattern` minus `/*`. */
  DARKROOM_PRIVATE_PATH: z
    .string()
    .regex(/^(\/[A-Za-z0-9_.-]+)+$/, 'expected a path such as /private')
    .refine((v) => !['/img', '/v1', '/_edge'].includes(v), 'must not be /img, /v1 or /_edge')
    .default(DEFAULT_PRIVATE_PATH),
  /** CloudFront distribution whose cached copies of a deleted image are invalidated (the stack's DistributionId). */
  DARKROOM_CLOUDFRONT_DISTRIBUTION_ID: z
    .string()
    .regex(/^[A-Z0-9]{1,64}$/, 'expected a CloudFront distribution id such as E2QWRUHAPOMQZL')
    .optional(),
  /** Every server (API, embedded S3 and SQS) closes a connection whose request headers take longer. */
  DARKROOM_HEADERS_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(20),
  /** … or that is silent both ways this long (above SQS's 20 s long polls and the 15 s SSE heartbeat). */
  DARKROOM_IDLE_TIMEOUT_SECONDS: z.coerce.number().int().min(30).max(86_400).default(120),
  /** … or whose request body moves less than DARKROOM_BODY_MIN_RATE bytes/s over a window this long. */
  DARKROOM_BODY_TIMEOUT_SECONDS: z.coerce.number().int().min(1).max(3600).default(20),
  DARKROOM_BODY_MIN_RATE: z.coerce.number().int().min(0).default(1024),
  /** Open connections per client address on each server; 0: no cap (behind a proxy all clients share one address). */
  DARKROOM_MAX_CONNECTIONS_PER_CLIENT: z.coerce.number().int().min(0).default(128),
  /** Open GET /v1/events streams per owner and API process; the next one is refused with 429. */
  DARKROOM_MAX_EVENT_STREAMS: z.coerce.number().int().min(1).max(10_000).default(10),
  /** How often an API reads the status-event log when no commit woke it (SQLite with other processes). */
  DARKROOM_EVENT_POLL_MS: z.coerce.number().int().min(10).max(3_600_000).default(250),
  /** GET /dev/token in `darkroom start` (the web app's sign-in); default: on only with the development JWT secret. */
  DARKROOM_DEV_TOKEN_ROUTE: optionalBool,
  /**
   * Not a DARKROOM_ variable: libuv's own, read here (libuv reads it itself, once, when its thread pool
   * first starts; `bin/darkroom.js` sets it before then). Bounds like libuv's own (1 to 1024).
   */
  UV_THREADPOOL_SIZE: z.coerce.number().int().min(1).max(1024).default(4),
});

/** The variables as they parse, one field per DARKROOM_* variable (and UV_THREADPOOL_SIZE). */
type Env = z.output<typeof envSchema>;

/**
 * The schema that turns the environment into the configuration: each variable validated by envSchema,
 * then shaped into the nested object the roles read. Config's type is this schema's output; there is no
 * second description of it. Problems that involve several variables are all reported, not just the first.
 */
const configSchema = envSchema.transform((e, ctx) => {
  const problems: string[] = [];
  const config = shape(e, problems);
  // Root-level issues (no path): each message already names its variables.
  for (const message of problems) ctx.addIssue({ code: 'custom', message, path: [] });
  return problems.length > 0 ? z.NEVER : config;
});

/** Validated, frozen configuration shared by every role (the output of the schema above, read-only). */
export type Config = DeepReadonly<z.output<typeof configSchema>>;

/** Every field and element read-only, as deepFreeze makes them. */
type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** Which S3 implementation serves the bucket (DARKROOM_S3_PROVIDER, or what the endpoint implies). */
export type S3Provider = NonNullable<Env['DARKROOM_S3_PROVIDER']>;
export type QueueKind = 'embedded' | 'sqs' | 'amqp';
export type AccessKeySource = 'configured' | 'development' | 'generated';

/** The key pair for CloudFront canned-policy URLs. */
export interface CloudFrontKeys {
  readonly keyPairId: string;
  /** PEM; undefined on an origin that only verifies (the signer runs elsewhere). */
  readonly privateKeyPem: string | undefined;
  readonly publicKeyPem: string;
}

/** A host as it appears in a URL (IPv6 literals in brackets). */
export function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** Where this machine's own embedded servers are reached: a wildcard listen address is not a destination. */
export function localEndpointHost(config: Pick<Config, 'host'>): string {
  if (config.host === '0.0.0.0') return '127.0.0.1';
  if (config.host === '::') return '[::1]';
  return urlHost(config.host);
}

/** Raised when the environment is invalid; the message names each bad variable. */
export class ConfigError extends Error {
  readonly code = 'invalid_config';
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Variables in the DARKROOM_ family read by the tools around Darkroom rather than by loadConfig, so no
 * warning names them: bin/darkroom.js, the web app's dev proxy, the browser tests and benchmarks.
 */
const READ_ELSEWHERE = new Set(['DARKROOM_FROM_SOURCE', 'DARKROOM_API_URL', 'DARKROOM_CHROMIUM']);
/** The test suites' own switches (DARKROOM_TEST_LOG, DARKROOM_TEST_PG_URL, …). */
const READ_BY_TESTS = 'DARKROOM_TEST_';

/**
 * One warning per DARKROOM_* variable Darkroom does not read (a typo such as DARKROOM_S3_BUKET would
 * otherwise be ignored in silence), naming the variable it most likely meant when one is close.
 */
export function unknownVariableWarnings(env: Readonly<Record<string, string | undefined>>): string[] {
  const known = Object.keys(envSchema.shape);
  return Object.keys(env)
    .filter((name) => name.startsWith('DARKROOM_') && env[name] !== undefined && env[name] !== '')
    .filter((name) => !(name in envSchema.shape) && !READ_ELSEWHERE.has(name))
    .filter((name) => !name.startsWith(READ_BY_TESTS))
    .sort()
    .map((name) => {
      const guess = nearest(name, known);
      return `${name} is not a variable Darkroom reads; it is ignored${guess ? ` (did you mean ${guess}?)` : ''}`;
    });
}

/** The known name closest to `name` by edit distance, when close enough to be a typo of it. */
function nearest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(name.slice('DARKROOM_'.length), candidate.slice('DARKROOM_'.length));
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  // Two edits, or a fifth of the name for long ones: BUKET→BUCKET, MAX_UPLOAD_BYTE→MAX_UPLOAD_BYTES.
  const limit = Math.max(2, Math.floor((name.length - 'DARKROOM_'.length) / 5));
  return bestDistance <= limit ? best : undefined;
}

/** Levenshtein distance, with a transposition counting as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * Reads and validates DARKROOM_* variables once; throws ConfigError naming every bad variable (each
 * variable's own problems, or, when every variable is valid on its own, every problem between them).
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  // Empty strings mean "unset", as they do for most twelve-factor tools.
  const present = Object.fromEntries(
    Object.entries(env).filter(
      ([k, v]) => (k.startsWith('DARKROOM_') || k === 'UV_THREADPOOL_SIZE') && v !== '',
    ),
  );
  const parsed = configSchema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => {
        if (issue.path.length === 0) return issue.message;
        const name = String(issue.path[0]);
        const received = present[name];
        return `${name}: ${issue.message}${received === undefined ? '' : ` (received ${JSON.stringify(received)})`}`;
      }),
    );
  }
  return deepFreeze(parsed.data);
}

/** The configuration's shape, from variables that are each valid; what does not fit together goes to `problems`. */
function shape(e: Env, problems: string[]) {
  const accessKeys = pairKeys(e.DARKROOM_S3_ACCESS_KEY_ID, e.DARKROOM_S3_SECRET_ACCESS_KEY, problems);
  const dataDir = path.resolve(e.DARKROOM_DATA_DIR);
  const host = e.DARKROOM_HOST.includes(':') ? `[${e.DARKROOM_HOST}]` : e.DARKROOM_HOST;
  const publicBaseUrl = (e.DARKROOM_PUBLIC_BASE_URL ?? `http://${host}:${e.DARKROOM_PORT}`).replace(
    /\/+$/,
    '',
  );
  const databaseUrl = e.DARKROOM_DATABASE_URL?.startsWith('sqlite:')
    ? `sqlite:${path.resolve(e.DARKROOM_DATABASE_URL.slice('sqlite:'.length))}`
    : (e.DARKROOM_DATABASE_URL ?? `sqlite:${path.join(dataDir, 'darkroom.sqlite')}`);
  const onAws =
    e.DARKROOM_S3_ENDPOINT !== undefined &&
    /(^|\.)amazonaws\.com$/.test(new URL(e.DARKROOM_S3_ENDPOINT).hostname);
  const provider: S3Provider =
    e.DARKROOM_S3_PROVIDER ?? (e.DARKROOM_S3_ENDPOINT === undefined ? 'embedded' : onAws ? 'aws' : 'generic');
  if (provider === 'embedded' && e.DARKROOM_S3_ENDPOINT !== undefined) {
    problems.push(
      "DARKROOM_S3_PROVIDER: embedded means Darkroom's own S3 server; unset DARKROOM_S3_ENDPOINT or name the provider it is (aws, ceph, minio, generic)",
    );
  }
  if (provider !== 'embedded' && e.DARKROOM_S3_ENDPOINT === undefined) {
    problems.push(`DARKROOM_S3_ENDPOINT: required with DARKROOM_S3_PROVIDER=${provider}`);
  }
  const queueUrl = e.DARKROOM_QUEUE_URL ?? e.DARKROOM_SQS_QUEUE_URL;
  if (e.DARKROOM_QUEUE_URL && e.DARKROOM_SQS_QUEUE_URL && e.DARKROOM_QUEUE_URL !== e.DARKROOM_SQS_QUEUE_URL) {
    problems.push(
      'DARKROOM_SQS_QUEUE_URL: an alias of DARKROOM_QUEUE_URL, and the two differ; set only DARKROOM_QUEUE_URL',
    );
  }
  if (e.DARKROOM_SQS_QUEUE_URL && /^amqps?:/.test(e.DARKROOM_SQS_QUEUE_URL)) {
    problems.push('DARKROOM_SQS_QUEUE_URL: an AMQP URL belongs in DARKROOM_QUEUE_URL');
  }
  const queueKind: QueueKind =
    queueUrl === undefined ? 'embedded' : /^amqps?:/.test(queueUrl) ? 'amqp' : 'sqs';
  if (e.DARKROOM_S3_ACCELERATE && !onAws) {
    problems.push(
      'DARKROOM_S3_ACCELERATE: Transfer Acceleration exists only on Amazon S3; set DARKROOM_S3_ENDPOINT to an amazonaws.com URL (e.g. https://s3.amazonaws.com)',
    );
  }
  if (e.DARKROOM_PENDING_TTL_SECONDS <= e.DARKROOM_PRESIGN_TTL_SECONDS) {
    problems.push('DARKROOM_PENDING_TTL_SECONDS: must be longer than DARKROOM_PRESIGN_TTL_SECONDS');
  }
  if (e.DARKROOM_WEBHOOK_URL && !e.DARKROOM_WEBHOOK_SECRET) {
    problems.push('DARKROOM_WEBHOOK_SECRET: required when DARKROOM_WEBHOOK_URL is set (webhooks are signed)');
  }
  const cloudfront = cloudFrontKeys(
    e.DARKROOM_CLOUDFRONT_KEY_PAIR_ID,
    e.DARKROOM_CLOUDFRONT_PRIVATE_KEY,
    e.DARKROOM_CLOUDFRONT_PUBLIC_KEY,
    problems,
  );
  if (e.DARKROOM_MULTIPART_THRESHOLD < e.DARKROOM_MULTIPART_PART_SIZE) {
    problems.push('DARKROOM_MULTIPART_THRESHOLD: must not be smaller than DARKROOM_MULTIPART_PART_SIZE');
  }
  const jwtSecret = e.DARKROOM_JWT_SECRET ?? (e.DARKROOM_JWT_JWKS_URL ? undefined : DEV_JWT_SECRET);
  const transformSecret = e.DARKROOM_TRANSFORM_SECRET ?? DEV_TRANSFORM_SECRET;
  return {
    host: e.DARKROOM_HOST,
    port: e.DARKROOM_PORT,
    logLevel: e.DARKROOM_LOG_LEVEL,
    logFormat: e.DARKROOM_LOG_FORMAT,
    dataDir,
    shutdownTimeoutMs: e.DARKROOM_SHUTDOWN_TIMEOUT_MS,
    /**
     * Threads in libuv's pool (UV_THREADPOOL_SIZE), which file I/O and libvips share: image work gets
     * slots that leave some for I/O (pipeline/imaging-slots.ts).
     */
    threadPoolSize: e.UV_THREADPOOL_SIZE,
    s3: {
      port: e.DARKROOM_S3_PORT,
      /** Unset means the embedded server at host:port. */
      endpoint: e.DARKROOM_S3_ENDPOINT,
      /** The endpoint is Amazon S3 itself (`*.amazonaws.com`): the SDK resolves regional and accelerate hosts. */
      onAws,
      /** Which implementation serves the bucket: decides what `darkroom setup` can provision and how. */
      provider,
      bucket: e.DARKROOM_S3_BUCKET,
      region: e.DARKROOM_S3_REGION,
      forcePathStyle: e.DARKROOM_S3_FORCE_PATH_STYLE ?? !onAws,
      accelerate: e.DARKROOM_S3_ACCELERATE,
      domain: e.DARKROOM_S3_DOMAIN,
      /** Key pairs the embedded server accepts; the first is the one Darkroom signs with. */
      accessKeys: accessKeys ?? [{ accessKeyId: DEV_ACCESS_KEY_ID, secretAccessKey: DEV_SECRET_ACCESS_KEY }],
      /**
       * Where the key pairs come from: DARKROOM_S3_ACCESS_KEY_ID/SECRET (`configured`), the published
       * development pair (`development`, the default until a role resolves it, see secrets/development.ts),
       * or a pair generated for the data dir (`generated`).
       */
      accessKeySource: (accessKeys === undefined ? 'development' : 'configured') as AccessKeySource,
    },
    sqs: {
      port: e.DARKROOM_SQS_PORT,
      /** The SQS queue URL when the queue is SQS (Amazon or a separate server); unset with the embedded one or RabbitMQ. */
      queueUrl: queueKind === 'sqs' ? queueUrl : undefined,
      maxReceiveCount: e.DARKROOM_MAX_RECEIVE_COUNT,
      visibilityTimeoutSeconds: e.DARKROOM_VISIBILITY_TIMEOUT_SECONDS,
    },
    /** The uploads queue, whatever carries it. */
    queue: {
      /** `embedded`: the embedded SQS server at HOST:SQS_PORT; `sqs`: an SQS queue URL; `amqp`: RabbitMQ. */
      kind: queueKind,
      /** DARKROOM_QUEUE_URL (or DARKROOM_SQS_QUEUE_URL); undefined for the embedded queue. */
      url: queueUrl,
      name: e.DARKROOM_QUEUE_NAME,
      /** Where messages go after DARKROOM_MAX_RECEIVE_COUNT receives. */
      deadLetterName: deadLetterQueueName(e.DARKROOM_QUEUE_NAME),
    },
    worker: {
      concurrency: e.DARKROOM_WORKER_CONCURRENCY ?? os.availableParallelism(),
      /** Raw DARKROOM_VARIANTS (parsed by the pipeline, which owns the grammar). */
      variants: e.DARKROOM_VARIANTS,
      maxPixels: e.DARKROOM_MAX_PIXELS,
      pendingTtlSeconds: e.DARKROOM_PENDING_TTL_SECONDS,
      sweepIntervalSeconds: e.DARKROOM_SWEEP_INTERVAL_SECONDS,
      /** DARKROOM_NOTIFICATION_GRACE_SECONDS: the sweep re-enqueues an uploaded original without a notification after this. */
      notificationGraceSeconds: e.DARKROOM_NOTIFICATION_GRACE_SECONDS,
      metricsPort: e.DARKROOM_WORKER_METRICS_PORT,
    },
    webhook: { url: e.DARKROOM_WEBHOOK_URL, secret: e.DARKROOM_WEBHOOK_SECRET },
    /** Secret storage must present on POST /v1/hooks/s3; undefined disables the route. */
    s3WebhookSecret: e.DARKROOM_S3_WEBHOOK_SECRET,
    /** `sqlite:/abs/path` or a postgres URL. */
    databaseUrl,
    jwt: {
      /** HS256 secret; undefined when tokens are verified against a JWKS instead. */
      secret: jwtSecret,
      /** True when the secret is the published development one (by default or set to it, by value). */
      usingDevSecret: jwtSecret === DEV_JWT_SECRET,
      jwksUrl: e.DARKROOM_JWT_JWKS_URL,
      issuer: e.DARKROOM_JWT_ISSUER,
      audience: e.DARKROOM_JWT_AUDIENCE,
    },
    /** DARKROOM_DEV_TOKEN_ROUTE; undefined means "on only with the development JWT secret". */
    devTokenRoute: e.DARKROOM_DEV_TOKEN_ROUTE,
    /** Open event streams per owner and API process (DARKROOM_MAX_EVENT_STREAMS). */
    maxEventStreams: e.DARKROOM_MAX_EVENT_STREAMS,
    /**
     * DARKROOM_EVENT_POLL_MS: how often an API's event hub reads the log unprompted. Its own process's
     * commits and, on PostgreSQL, every process's (LISTEN/NOTIFY) wake it at once.
     */
    eventPollMs: e.DARKROOM_EVENT_POLL_MS,
    /** What every server tolerates from a client (its total request timeout is the server's own). */
    connections: {
      headersTimeoutMs: e.DARKROOM_HEADERS_TIMEOUT_SECONDS * 1000,
      idleTimeoutMs: e.DARKROOM_IDLE_TIMEOUT_SECONDS * 1000,
      keepAliveTimeoutMs: DEFAULT_LIMITS.keepAliveTimeoutMs,
      bodyWindowMs: e.DARKROOM_BODY_TIMEOUT_SECONDS * 1000,
      bodyMinBytesPerSecond: e.DARKROOM_BODY_MIN_RATE,
      maxConnectionsPerClient: e.DARKROOM_MAX_CONNECTIONS_PER_CLIENT,
    } satisfies Omit<ConnectionLimits, 'requestTimeoutMs'>,
    /** Where browsers reach the API (no trailing slash). */
    publicBaseUrl,
    /** Base of variant URLs the API returns (the CDN in production; publicBaseUrl otherwise). */
    cdnBaseUrl: e.DARKROOM_CDN_BASE_URL?.replace(/\/+$/, ''),
    corsOrigins: e.DARKROOM_CORS_ORIGINS ?? [new URL(publicBaseUrl).origin],
    uploads: {
      maxBytes: e.DARKROOM_MAX_UPLOAD_BYTES,
      allowedTypes: e.DARKROOM_ALLOWED_TYPES,
      multipartThreshold: e.DARKROOM_MULTIPART_THRESHOLD,
      partSize: e.DARKROOM_MULTIPART_PART_SIZE,
      presignTtlSeconds: e.DARKROOM_PRESIGN_TTL_SECONDS,
      perMinute: e.DARKROOM_UPLOADS_PER_MINUTE,
      maxPending: e.DARKROOM_MAX_PENDING_UPLOADS,
      quotaBytes: e.DARKROOM_QUOTA_BYTES,
    },
    delivery: {
      /** HMAC key for `/img/{id}/{options}?sig=` transform URLs. */
      transformSecret,
      /** True when the transform secret is the published development one (by default or set to it). */
      usingDevTransformSecret: transformSecret === DEV_TRANSFORM_SECRET,
      transformMaxWidth: e.DARKROOM_TRANSFORM_MAX_WIDTH,
      transformMaxHeight: e.DARKROOM_TRANSFORM_MAX_HEIGHT,
      transformMaxPixels: e.DARKROOM_TRANSFORM_MAX_PIXELS,
      /** Signed-URL keys for private images; undefined means the API role makes development keys in the data dir. */
      /** First renders at once per API process (DARKROOM_RENDER_CONCURRENCY). */
      renderConcurrency: e.DARKROOM_RENDER_CONCURRENCY ?? os.availableParallelism(),
      /** First renders waiting beyond those (DARKROOM_RENDER_QUEUE); the next is refused. */
      renderQueue: e.DARKROOM_RENDER_QUEUE,
      cloudfront,
      signedUrlTtlSeconds: e.DARKROOM_SIGNED_URL_TTL_SECONDS,
      /** Viewer path of private images (`/private`), served by the CDN's trusted-key-group behaviour. */
      privatePath: e.DARKROOM_PRIVATE_PATH,
      /** Invalidate deleted images on this CloudFront distribution; undefined: no CDN to tell. */
      distributionId: e.DARKROOM_CLOUDFRONT_DISTRIBUTION_ID,
    },
  };
}

/** A PEM given inline or as a path to a file; undefined (and a problem) when it is neither. */
function readPem(name: string, value: string, problems: string[]): string | undefined {
  if (value.includes('-----BEGIN')) return value.replace(/\\n/g, '\n');
  try {
    return fs.readFileSync(value, 'utf8');
  } catch (err) {
    problems.push(`${name}: not PEM text and not a readable file (${(err as Error).message})`);
    return undefined;
  }
}

function cloudFrontKeys(
  keyPairId: string | undefined,
  privateKey: string | undefined,
  publicKey: string | undefined,
  problems: string[],
): CloudFrontKeys | undefined {
  if (keyPairId === undefined && privateKey === undefined && publicKey === undefined) return undefined;
  if (keyPairId === undefined || (privateKey === undefined && publicKey === undefined)) {
    problems.push(
      'DARKROOM_CLOUDFRONT_KEY_PAIR_ID / DARKROOM_CLOUDFRONT_PRIVATE_KEY: set the key pair id and the private key (or, on a verify-only origin, DARKROOM_CLOUDFRONT_PUBLIC_KEY)',
    );
    return undefined;
  }
  let privateKeyPem: string | undefined;
  let derivedPublic: string | undefined;
  if (privateKey !== undefined) {
    privateKeyPem = readPem('DARKROOM_CLOUDFRONT_PRIVATE_KEY', privateKey, problems);
    if (privateKeyPem === undefined) return undefined;
    try {
      const key = crypto.createPrivateKey(privateKeyPem);
      if (key.asymmetricKeyType !== 'rsa')
        throw new Error(`a ${key.asymmetricKeyType} key; CloudFront needs RSA`);
      derivedPublic = crypto.createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
    } catch (err) {
      problems.push(
        `DARKROOM_CLOUDFRONT_PRIVATE_KEY: not a usable RSA private key (${(err as Error).message})`,
      );
      return undefined;
    }
  }
  let publicKeyPem = derivedPublic;
  if (publicKey !== undefined) {
    publicKeyPem = readPem('DARKROOM_CLOUDFRONT_PUBLIC_KEY', publicKey, problems);
    if (publicKeyPem === undefined) return undefined;
    try {
      crypto.createPublicKey(publicKeyPem);
    } catch (err) {
      problems.push(`DARKROOM_CLOUDFRONT_PUBLIC_KEY: not a usable public key (${(err as Error).message})`);
      return undefined;
    }
  }
  return { keyPairId, privateKeyPem, publicKeyPem: publicKeyPem! };
}

function pairKeys(
  ids: string[] | undefined,
  secrets: string[] | undefined,
  problems: string[],
): AccessKey[] | undefined {
  if (ids === undefined && secrets === undefined) return undefined;
  if (ids === undefined || secrets === undefined || ids.length !== secrets.length) {
    problems.push(
      'DARKROOM_S3_ACCESS_KEY_ID / DARKROOM_S3_SECRET_ACCESS_KEY: set both, with the same number of comma-separated entries',
    );
    return undefined;
  }
  return ids.map((accessKeyId, i) => ({ accessKeyId, secretAccessKey: secrets[i]! }));
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
