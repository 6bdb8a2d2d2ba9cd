/**
 * @module The S3 conformance suite's frame, written once and run against any S3 endpoint (the tus/hono
 * pattern): the embedded server always, a throw-away Ceph RGW in `npm test`, Amazon S3 when someone points
 * it there. A target says where it is and what it can do; a skip list says, per test, why a target is
 * excused (each entry is checked to still name a test, so a renamed test cannot leave a stale excuse).
 */
import { randomBytes } from 'node:crypto';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Where an S3 endpoint is and what it offers beyond the S3 API every target speaks. */
export interface S3Target {
  /** A short name for test titles: `embedded`, `ceph-rgw`, `aws`. */
  readonly name: string;
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** A path-style SDK v3 client at the SDK's current defaults (checksums, aws-chunked), with overrides. */
  client(overrides?: Partial<S3ClientConfig>): S3Client;
  /** Creates a bucket named after `prefix` and unique on the target; returns its name. */
  newBucket(prefix: string): Promise<string>;
  /** Stops the target and removes what it stored (clients made by `client()` are closed too). */
  stop(): Promise<void>;
}

/** What a target can do that is not the same everywhere S3 is spoken. */
export interface S3Capabilities {
  /** `{bucket}.localhost:{port}` is served as virtual-host-style addressing. */
  virtualHostLocalhost: boolean;
}

/** Per target, tests it is excused from, keyed `group > test title`, each with the reason. */
export type SkipList = Readonly<Record<string, string>>;

/**
 * Details a target gets differently from S3 without failing the behaviour a test is about, each with the
 * reason; a test checks the detail only on targets that do not declare it.
 */
export interface Deviations {
  /** Error documents with an empty `<Message>` or one worded otherwise, or without S3's extra fields. */
  errorDetails?: string;
  /** A CompleteMultipartUpload answer whose `<ETag>` is empty. */
  completeEtag?: string;
  /** ETags in XML answers sent without their quotes. */
  etagQuotes?: string;
}

/** How one lane runs the suite: what to start, what it can do, and what it is excused from. */
export interface SuiteLane {
  label: string;
  start(): Promise<S3Target>;
  capabilities: S3Capabilities;
  skips: SkipList;
  deviations?: Deviations;
}

/** What each group of tests gets: the target (once started), a default client, and `describe`/`it`. */
export class SuiteContext {
  private started: S3Target | undefined;
  private defaultClient: S3Client | undefined;
  private readonly path: string[] = [];
  private readonly usedSkips = new Set<string>();

  constructor(
    private readonly skips: SkipList,
    private readonly capabilities: S3Capabilities,
    private readonly deviations: Deviations = {},
  ) {}

  /** Whether the target declared this deviation from S3 (so a test leaves that detail unchecked). */
  deviates(detail: keyof Deviations): boolean {
    return this.deviations[detail] !== undefined;
  }

  /** The running target; only inside hooks and tests. */
  get target(): S3Target {
    if (!this.started) throw new Error('the S3 target is not started yet (use it inside hooks and tests)');
    return this.started;
  }

  /** One client per target at the SDK's defaults, for tests that need nothing special. */
  get client(): S3Client {
    this.defaultClient ??= this.target.client();
    return this.defaultClient;
  }

  /** A vitest `describe` whose title prefixes the skip keys of the tests inside it. */
  describe(title: string, body: () => void): void {
    describe(title, () => {
      this.path.push(title);
      try {
        body();
      } finally {
        this.path.pop();
      }
    });
  }

  /**
   * A vitest `it`, skipped on targets whose skip list names it or that lack a capability it `needs`
   * (the reason shows in the title).
   */
  it(
    title: string,
    fn: () => Promise<void>,
    opts: { needs?: keyof S3Capabilities; timeout?: number } = {},
  ): void {
    const key = [...this.path, title].join(' > ');
    const listed = this.skips[key];
    if (listed !== undefined) this.usedSkips.add(key);
    const reason =
      listed ?? (opts.needs && !this.capabilities[opts.needs] ? `target lacks ${opts.needs}` : undefined);
    if (reason !== undefined) it.skip(`${title} [skipped: ${reason}]`, fn);
    else it(title, fn, opts.timeout);
  }

  /** A bucket for one group of tests, created in a `beforeAll`; read it inside tests. */
  bucket(prefix: string): { readonly name: string } {
    const holder = { name: '' };
    beforeAll(async () => {
      holder.name = await this.target.newBucket(prefix);
    });
    return holder;
  }

  /** @internal Runs the suite's groups against the target `start` resolves to. */
  run(label: string, start: () => Promise<S3Target>, groups: readonly ((s: SuiteContext) => void)[]): void {
    describe(label, () => {
      beforeAll(async () => {
        this.started = await start();
      }, 180_000);
      afterAll(async () => {
        this.defaultClient = undefined;
        await this.started?.stop();
      }, 60_000);
      for (const group of groups) group(this);
      it('names only tests that exist in its skip list', () => {
        const stale = Object.keys(this.skips).filter((k) => !this.usedSkips.has(k));
        expect(stale, 'skip-list entries that match no test').toEqual([]);
      });
    });
  }
}

/** A bucket name S3 accepts: the prefix, then random hex (63 characters at most). */
export function uniqueBucketName(prefix: string): string {
  return `${prefix.slice(0, 40)}-${randomBytes(6).toString('hex')}`;
}

/** Clients made for one target, so `stop()` can close them all. */
export function clientFactory(base: S3ClientConfig): {
  make(overrides?: Partial<S3ClientConfig>): S3Client;
  destroyAll(): void;
} {
  const made: S3Client[] = [];
  return {
    make(overrides = {}) {
      const c = new S3Client({ ...base, ...overrides });
      made.push(c);
      return c;
    },
    destroyAll() {
      for (const c of made.splice(0)) c.destroy();
    },
  };
}
