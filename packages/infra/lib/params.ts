import { parseVariants, UNPROCESSED_TAG, type VariantSpec } from '@darkroom/contract';

/** Everything a deployment may choose; every field has a default except the API origin's domain. */
export interface DarkroomParams {
  /** Domain name of the Darkroom API/delivery origin behind CloudFront (a load balancer, e.g. `api.example.com`). */
  readonly apiOriginDomain: string;
  /** Browser origins allowed to PUT/POST uploads straight to the bucket (bucket CORS). */
  readonly corsOrigins: readonly string[];
  /** Physical bucket name; undefined lets CloudFormation generate a unique one. */
  readonly bucketName?: string | undefined;
  /** Physical name of the uploads queue (its DLQ gets `-dlq`); undefined lets CloudFormation name them. */
  readonly queueName?: string | undefined;
  /** S3 Transfer Acceleration on the bucket (then set DARKROOM_S3_ACCELERATE=true). */
  readonly transferAcceleration: boolean;
  /** Unprocessed originals under `uploads/` expire after this many days (see `expireAllUploads`). */
  readonly uploadsExpirationDays: number;
  /**
   * When false (the default), only originals tagged `darkroom-state=unprocessed` (the contract's
   * UNPROCESSED_TAG, which the server sets and clears) expire, because processed originals are kept for
   * re-processing and transforms; when true, every `uploads/` object expires (originals are disposable).
   */
  readonly expireAllUploads: boolean;
  /** Receives before a message moves to the dead-letter queue (DARKROOM_MAX_RECEIVE_COUNT). */
  readonly maxReceiveCount: number;
  /** Queue visibility timeout; must match DARKROOM_VISIBILITY_TIMEOUT_SECONDS on the workers. */
  readonly visibilityTimeoutSeconds: number;
  /** How long failed messages stay on the dead-letter queue for inspection and redrive. */
  readonly dlqRetentionDays: number;
  /** Largest upload the API will presign (DARKROOM_MAX_UPLOAD_BYTES); reported in the env output. */
  readonly maxUploadBytes: number;
  /** CloudFront public key (PEM, RSA 2048) for signed private-image URLs; undefined: no private behaviour. */
  readonly publicKeyPem?: string | undefined;
  /** Path pattern of the behaviour that requires signed URLs (private images); DARKROOM_PRIVATE_PATH is it minus `/*`. */
  readonly privatePathPattern: string;
  /**
   * DARKROOM_VARIANTS, the same on every process: the CloudFront Function learns from it, at synth time, which
   * formats each variant is stored in. Undefined: Darkroom's default variants.
   */
  readonly variants?: string | undefined;
  /**
   * DARKROOM_TRANSFORM_SECRET, compiled into the CloudFront Function so transform URLs are verified at the edge
   * (it is then readable by whoever may read the template or the function). Undefined: the edge refuses transforms.
   */
  readonly transformSecret?: string | undefined;
  /** CloudFront price class: 100 (NA+EU), 200, or All. */
  readonly priceClass: '100' | '200' | 'All';
  /** Alternate domain names for the distribution; need `certificateArn` (ACM, us-east-1). */
  readonly domainNames: readonly string[];
  readonly certificateArn?: string | undefined;
  /** Delete the bucket (and its objects) and queues with the stack; false keeps the data (production). */
  readonly destroyOnRemoval: boolean;
}

/** The defaults every omitted parameter takes. */
export const DEFAULTS: Omit<DarkroomParams, 'apiOriginDomain'> = {
  corsOrigins: [],
  transferAcceleration: false,
  uploadsExpirationDays: 7,
  expireAllUploads: false,
  maxReceiveCount: 5,
  visibilityTimeoutSeconds: 60,
  dlqRetentionDays: 14,
  maxUploadBytes: 200 * 1024 ** 2,
  privatePathPattern: '/private/*',
  priceClass: '100',
  domainNames: [],
  destroyOnRemoval: false,
};

/** What callers pass: the API origin's domain, and any other parameter (undefined means the default). */
export type ParamsInput = { readonly [K in keyof DarkroomParams]?: DarkroomParams[K] | undefined } & {
  readonly apiOriginDomain: string;
};

/** Raised for a parameter that cannot work; the message names the context key. */
export class ParamError extends Error {
  constructor(key: string, problem: string) {
    super(`darkroom infra: context "${key}": ${problem}`);
    this.name = 'ParamError';
  }
}

/** Fills defaults and validates; throws ParamError naming the first bad parameter. */
export function resolveParams(input: ParamsInput): DarkroomParams {
  const p: DarkroomParams = { ...DEFAULTS, ...stripUndefined(input), apiOriginDomain: input.apiOriginDomain };
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d+)?$/i.test(p.apiOriginDomain)) {
    throw new ParamError(
      'apiOriginDomain',
      `expected a host name such as api.example.com (got "${p.apiOriginDomain}")`,
    );
  }
  for (const origin of p.corsOrigins) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ParamError(
        'corsOrigins',
        `expected origins such as https://app.example.com (got "${origin}")`,
      );
    }
  }
  if (p.bucketName !== undefined && !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(p.bucketName)) {
    throw new ParamError('bucketName', 'expected an S3 bucket name (3-63 chars: a-z, 0-9, . and -)');
  }
  if (p.transferAcceleration && p.bucketName?.includes('.')) {
    // S3 refuses acceleration on bucket names with dots (they break the accelerate endpoint's TLS).
    throw new ParamError('transferAcceleration', 'Transfer Acceleration needs a bucket name without dots');
  }
  intIn('uploadsExpirationDays', p.uploadsExpirationDays, 1, 3650);
  intIn('maxReceiveCount', p.maxReceiveCount, 1, 1000);
  intIn('visibilityTimeoutSeconds', p.visibilityTimeoutSeconds, 5, 43_200);
  intIn('dlqRetentionDays', p.dlqRetentionDays, 1, 14);
  intIn('maxUploadBytes', p.maxUploadBytes, 1, 5 * 1024 ** 4);
  if (!/^\/?[A-Za-z0-9_.\-/]+\/\*$/.test(p.privatePathPattern) || p.privatePathPattern.startsWith('/img/')) {
    throw new ParamError(
      'privatePathPattern',
      'expected a path prefix ending in /* outside /img/, e.g. /private/*',
    );
  }
  try {
    parseVariants(p.variants);
  } catch (err) {
    throw new ParamError('variants', (err as Error).message);
  }
  if (p.transformSecret !== undefined && p.transformSecret.length < 16) {
    throw new ParamError('transformSecret', 'must be at least 16 characters, as DARKROOM_TRANSFORM_SECRET');
  }
  if (!['100', '200', 'All'].includes(p.priceClass)) {
    throw new ParamError('priceClass', 'expected 100, 200 or All');
  }
  if (p.domainNames.length > 0 && p.certificateArn === undefined) {
    throw new ParamError(
      'domainNames',
      'alternate domain names need certificateArn (an ACM certificate in us-east-1)',
    );
  }
  if (p.publicKeyPem !== undefined && !p.publicKeyPem.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new ParamError('publicKeyPem', 'expected an RSA public key in PEM (-----BEGIN PUBLIC KEY-----)');
  }
  return p;
}

/**
 * Reads parameters from CDK context (`cdk synth -c key=value` or cdk.json); context values arrive as strings
 * on the command line and as JSON values from cdk.json, so both are accepted.
 */
export function paramsFromContext(get: (key: string) => unknown): DarkroomParams {
  const str = (key: string) => {
    const v = get(key);
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new ParamError(key, 'expected a string, number or boolean');
    }
    return String(v);
  };
  const num = (key: string) => {
    const v = str(key);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new ParamError(key, `expected a number (got "${v}")`);
    return n;
  };
  const bool = (key: string) => {
    const v = str(key);
    if (v === undefined) return undefined;
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    throw new ParamError(key, `expected true or false (got "${v}")`);
  };
  const list = (key: string) => {
    const v = get(key);
    if (Array.isArray(v)) return v.map(String);
    const s = str(key);
    return s === undefined
      ? undefined
      : s
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== '');
  };
  if (str('unprocessedTag') !== undefined) {
    // It was a parameter once, but the server never read it: a different tag here meant originals that
    // silently never expired. The tag is the contract's, fixed on both sides.
    throw new ParamError(
      'unprocessedTag',
      `no longer a parameter: the lifecycle rule filters on ${UNPROCESSED_TAG.key}=${UNPROCESSED_TAG.value}, the tag the server sets`,
    );
  }
  const priceClass = str('priceClass');
  const apiOriginDomain = str('apiOriginDomain');
  if (apiOriginDomain === undefined) {
    throw new ParamError(
      'apiOriginDomain',
      'required: the host CloudFront forwards /img/* to (-c apiOriginDomain=…)',
    );
  }
  return resolveParams({
    apiOriginDomain,
    corsOrigins: list('corsOrigins'),
    bucketName: str('bucketName'),
    queueName: str('queueName'),
    transferAcceleration: bool('transferAcceleration'),
    uploadsExpirationDays: num('uploadsExpirationDays'),
    expireAllUploads: bool('expireAllUploads'),
    maxReceiveCount: num('maxReceiveCount'),
    visibilityTimeoutSeconds: num('visibilityTimeoutSeconds'),
    dlqRetentionDays: num('dlqRetentionDays'),
    maxUploadBytes: num('maxUploadBytes'),
    // A PEM on the command line usually has its newlines escaped.
    publicKeyPem: str('publicKeyPem')?.replace(/\\n/g, '\n'),
    privatePathPattern: str('privatePathPattern'),
    variants: str('variants'),
    transformSecret: str('transformSecret'),
    priceClass: priceClass as DarkroomParams['priceClass'] | undefined,
    domainNames: list('domainNames'),
    certificateArn: str('certificateArn'),
    destroyOnRemoval: bool('destroyOnRemoval'),
  });
}

function intIn(key: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ParamError(key, `expected an integer from ${min} to ${max} (got ${value})`);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The variants the stack's function and processes use (DARKROOM_VARIANTS, or the default). */
export function variantSpecs(p: DarkroomParams): readonly VariantSpec[] {
  return parseVariants(p.variants);
}

/** DARKROOM_PRIVATE_PATH: the private behaviour's pattern without its trailing `/*`. */
export function privatePath(p: DarkroomParams): string {
  const path = p.privatePathPattern.replace(/\/\*$/, '');
  return path.startsWith('/') ? path : `/${path}`;
}
