import { createHash } from 'node:crypto';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl, S3RequestPresigner } from '@aws-sdk/s3-request-presigner';
import { UNPROCESSED_TAG } from '@darkroom/contract';
import { HttpRequest } from '@smithy/protocol-http';
import type { Logger } from 'pino';
import { DomainError, StorageRefusal } from '../domain/errors.ts';
import type { CompleteResult, ObjectInfo, ObjectStorage, Presigner } from '../domain/ports.ts';

/** UNPROCESSED_TAG as `x-amz-tagging` and CreateMultipartUpload's `Tagging` take it: `key=value`, URL-encoded. */
export const UNPROCESSED_TAGGING = `${encodeURIComponent(UNPROCESSED_TAG.key)}=${encodeURIComponent(UNPROCESSED_TAG.value)}`;

/** UNPROCESSED_TAG as the POST form's `tagging` field takes it: S3's Tagging XML. */
export const UNPROCESSED_TAGGING_XML = `<Tagging><TagSet><Tag><Key>${UNPROCESSED_TAG.key}</Key><Value>${UNPROCESSED_TAG.value}</Value></Tag></TagSet></Tagging>`;

/**
 * What a create-once write found: it wrote, or the key already held an object (it is left as it is),
 * with its ETag and whether it holds the same bytes as the file.
 */
export type CreateOnceResult = { written: true } | { written: false; etag: string; sameBytes: boolean };

/** The S3 error code of a service error, if it is one (NoSuchKey, NoSuchUpload, …). */
export function s3ErrorCode(err: unknown): string | undefined {
  return err instanceof S3ServiceException ? err.name : undefined;
}

/** Service errors are the caller's business; anything else means storage could not be reached. */
function unreachable(err: unknown): never {
  if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode ?? 500) < 500) throw err;
  throw new DomainError('storage_unavailable', undefined, 5, { cause: err });
}

/** As `unreachable`, with a service error told to the domain as a StorageRefusal (no SDK type leaves here). */
function refusedOrUnreachable(err: unknown): never {
  if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode ?? 500) < 500) {
    throw new StorageRefusal(err.name, err.message, { cause: err });
  }
  return unreachable(err);
}

/**
 * Darkroom's storage operations on its bucket, all through the AWS SDK v3 (one code path for the
 * embedded server and for AWS).
 */
export class StorageGateway implements Presigner, ObjectStorage {
  /** Whether the store takes If-None-Match / If-Match on writes; off for good once it answers NotImplemented. */
  private conditionalWrites = true;

  constructor(
    private readonly client: S3Client,
    private readonly presigner: S3Client,
    readonly bucket: string,
    private readonly opts: { log?: Pick<Logger, 'warn'> } = {},
  ) {}

  /**
   * Sends a write with its condition, or without one on a store that refuses conditional writes
   * (NotImplemented: an S3 of unknown make behind DARKROOM_S3_PROVIDER=generic). Stores that ignore the
   * headers (Ceph RGW 16 on CompleteMultipartUpload) simply write: the condition is a safeguard, never
   * what makes a write correct.
   */
  private async conditional<T>(write: (withCondition: boolean) => Promise<T>): Promise<T> {
    if (!this.conditionalWrites) return write(false);
    try {
      return await write(true);
    } catch (err) {
      if (s3ErrorCode(err) !== 'NotImplemented') throw err;
      // Only a write that then succeeds without its condition shows that the condition was refused.
      const written = await write(false);
      this.conditionalWrites = false;
      this.opts.log?.warn(
        { err },
        'storage refuses conditional writes (If-None-Match / If-Match): variants, renderings and multipart originals are written without them from now on',
      );
      return written;
    }
  }

  /**
   * A PUT URL binding key, Content-Type, Content-Length and (when given) the SHA-256 of the body. It
   * carries no tag: S3 takes x-amz-tagging only as a header, and requiring one more header of every
   * client would break the PUT contract (`Content-Type` is all a client sends). A PUT original that is
   * never developed is tagged by the worker when it fails, or removed by the sweeper when abandoned.
   */
  async presignPut(opts: {
    key: string;
    contentType: string;
    contentLength: number;
    sha256?: string | undefined;
    expiresIn: number;
  }) {
    const url = await this.presignObjectUrl({
      method: 'PUT',
      key: opts.key,
      query: { 'x-id': 'PutObject' },
      headers: {
        'content-type': opts.contentType,
        'content-length': String(opts.contentLength),
        // Hoisted into the query by the signer, so storage checks the body against it.
        ...(opts.sha256 ? { 'x-amz-checksum-sha256': opts.sha256 } : {}),
      },
      expiresIn: opts.expiresIn,
    });
    return { url, headers: { 'Content-Type': opts.contentType } };
  }

  /** A browser POST form whose policy pins the key, the Content-Type, the unprocessed tag and a length range. */
  async presignPost(opts: {
    key: string;
    contentType: string;
    maxBytes: number;
    sha256?: string | undefined;
    expiresIn: number;
  }) {
    // Fields are pinned by the signed policy (createPresignedPost adds an eq condition for each).
    const checksum: Record<string, string> = opts.sha256 ? { 'x-amz-checksum-sha256': opts.sha256 } : {};
    return createPresignedPost(this.presigner, {
      Bucket: this.bucket,
      Key: opts.key,
      Conditions: [
        ['eq', '$Content-Type', opts.contentType],
        ['content-length-range', 1, opts.maxBytes],
      ],
      Fields: { 'Content-Type': opts.contentType, tagging: UNPROCESSED_TAGGING_XML, ...checksum },
      Expires: opts.expiresIn,
    }).catch(unreachable);
  }

  /** Starts a multipart upload whose object will carry the unprocessed tag. */
  async createMultipart(key: string, contentType: string): Promise<string> {
    const res = await this.client
      .send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          ContentType: contentType,
          Tagging: UNPROCESSED_TAGGING,
        }),
      )
      .catch(unreachable);
    return res.UploadId!;
  }

  /** A part URL that binds the part's exact length. */
  async presignPart(opts: {
    key: string;
    uploadId: string;
    partNumber: number;
    contentLength: number;
    expiresIn: number;
  }) {
    return this.presignObjectUrl({
      method: 'PUT',
      key: opts.key,
      query: { 'x-id': 'UploadPart', partNumber: String(opts.partNumber), uploadId: opts.uploadId },
      headers: { 'content-length': String(opts.contentLength) },
      expiresIn: opts.expiresIn,
    });
  }

  /**
   * Presigns one object request with the SDK's own S3 presigner. The SDK's `getSignedUrl` re-runs the
   * whole middleware stack and endpoint resolution per call (about 1 ms); here the endpoint is resolved
   * once, by the SDK, from a probe URL, and each call only builds the request and signs it. Every
   * header passed is signed.
   */
  private async presignObjectUrl(opts: {
    method: string;
    key: string;
    query: Record<string, string>;
    headers: Record<string, string>;
    expiresIn: number;
  }): Promise<string> {
    this.objectBase ??= this.resolveObjectBase();
    const base = await this.objectBase;
    const request = new HttpRequest({
      method: opts.method,
      protocol: base.protocol,
      hostname: base.hostname,
      ...(base.port ? { port: Number(base.port) } : {}),
      path: `${base.pathPrefix}${opts.key.split('/').map(encodeURIComponent).join('/')}`,
      query: opts.query,
      headers: { host: base.host, ...opts.headers },
    });
    const signed = await this.signer
      .presign(request, {
        expiresIn: opts.expiresIn,
        signableHeaders: new Set(Object.keys(opts.headers)),
      })
      .catch(unreachable);
    const query = new URLSearchParams(signed.query as Record<string, string>)
      .toString()
      .replace(/\+/g, '%20');
    return `${base.protocol}//${base.host}${signed.path}?${query}`;
  }

  private objectBase:
    | Promise<{ protocol: string; hostname: string; port: string; host: string; pathPrefix: string }>
    | undefined;

  /** Lets the SDK decide the endpoint (path or virtual host, acceleration) once, from a probe URL. */
  private async resolveObjectBase() {
    const probeKey = 'darkroom-endpoint-probe';
    const probe = new URL(
      await getSignedUrl(this.presigner, new GetObjectCommand({ Bucket: this.bucket, Key: probeKey }), {
        expiresIn: 60,
      }),
    );
    return {
      protocol: probe.protocol,
      hostname: probe.hostname,
      port: probe.port,
      host: probe.host,
      pathPrefix: probe.pathname.slice(0, -probeKey.length),
    };
  }

  private get signer(): S3RequestPresigner {
    this.presignerInstance ??= new S3RequestPresigner({
      credentials: this.presigner.config.credentials,
      region: this.presigner.config.region,
      sha256: this.presigner.config.sha256,
    });
    return this.presignerInstance;
  }

  private presignerInstance: S3RequestPresigner | undefined;

  /**
   * Completes a multipart original create-once (`If-None-Match: *`): it never replaces an object already
   * at the key. A 412 is also what a store may answer a retried Complete whose first answer was lost (the
   * SDK retries by itself): the object there is then this upload's, recognised by its ETag (the MD5 of
   * the parts' MD5s, `-N`, as S3 computes it for SSE-S3 buckets), and the Complete counts as done.
   * Storage refusing the parts otherwise (NoSuchUpload, InvalidPart…) is a StorageRefusal.
   */
  async completeMultipart(
    key: string,
    uploadId: string,
    parts: readonly { partNumber: number; etag: string }[],
  ): Promise<CompleteResult> {
    try {
      const res = await this.conditional((withCondition) =>
        this.client.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
            ...(withCondition ? { IfNoneMatch: '*' } : {}),
          }),
        ),
      );
      return { outcome: 'completed', etag: res.ETag };
    } catch (err) {
      const code = s3ErrorCode(err);
      // 409 ConditionalRequestConflict: the key changed while the upload was under way.
      if (code !== 'PreconditionFailed' && code !== 'ConditionalRequestConflict') {
        return refusedOrUnreachable(err);
      }
    }
    const existing = await this.head(key);
    const ours = multipartEtag(parts);
    if (existing?.etag !== ours) return { outcome: 'key-taken', existing };
    // Our own Complete, answered before: the upload is gone on S3; anywhere it is not, it goes now.
    await this.abortMultipart(key, uploadId);
    return { outcome: 'completed', etag: `"${ours}"` };
  }

  /**
   * The parts storage holds for a multipart upload (every page of ListParts): what a resuming client
   * must trust over its own notes. Undefined when the upload no longer exists.
   */
  async listParts(
    key: string,
    uploadId: string,
  ): Promise<{ partNumber: number; size: number; etag: string; lastModified: number }[] | undefined> {
    const parts: { partNumber: number; size: number; etag: string; lastModified: number }[] = [];
    let marker: string | undefined;
    try {
      for (;;) {
        const res = await this.client.send(
          new ListPartsCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: uploadId,
            ...(marker ? { PartNumberMarker: marker } : {}),
          }),
        );
        for (const p of res.Parts ?? []) {
          parts.push({
            partNumber: p.PartNumber ?? 0,
            size: p.Size ?? 0,
            etag: p.ETag ?? '',
            lastModified: p.LastModified?.getTime() ?? 0,
          });
        }
        if (!res.IsTruncated || !res.NextPartNumberMarker) break;
        marker = res.NextPartNumberMarker;
      }
    } catch (err) {
      if (s3ErrorCode(err) === 'NoSuchUpload') return undefined;
      return unreachable(err);
    }
    return parts;
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
      .catch((err) => {
        if (s3ErrorCode(err) !== 'NoSuchUpload') unreachable(err);
      });
  }

  /**
   * Removes an original's tags once it is developed, so the lifecycle rule for unprocessed originals
   * leaves it alone. A missing object is fine (deleted meanwhile); other errors are the caller's to log.
   */
  async clearTags(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectTaggingCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      if (s3ErrorCode(err) === 'NoSuchKey' || s3ErrorCode(err) === 'NotFound') return;
      unreachable(err);
    }
  }

  /** Tags an original unprocessed (a failed image's), so the bucket's lifecycle rule expires it. */
  async tagUnprocessed(key: string): Promise<void> {
    await this.client
      .send(
        new PutObjectTaggingCommand({
          Bucket: this.bucket,
          Key: key,
          Tagging: { TagSet: [{ Key: UNPROCESSED_TAG.key, Value: UNPROCESSED_TAG.value }] },
        }),
      )
      .catch(unreachable);
  }

  /** HeadObject, or undefined when there is no such object. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        size: res.ContentLength ?? 0,
        etag: (res.ETag ?? '').replace(/"/g, ''),
        contentType: res.ContentType,
      };
    } catch (err) {
      if (s3ErrorCode(err) === 'NotFound' || s3ErrorCode(err) === 'NoSuchKey') return undefined;
      return unreachable(err);
    }
  }

  /**
   * Opens an object for delivery, passing the client's conditional and range headers to storage so
   * it answers them as S3 does: `status` is 200, 206, 304 or 416, with the body to stream for 2xx.
   */
  async openForDelivery(
    key: string,
    conditions: { range?: string; ifNoneMatch?: string; ifModifiedSince?: string },
  ): Promise<
    | { status: 200 | 206; body: Readable; headers: GetObjectCommandOutput }
    | { status: 304 | 404 | 416; body?: undefined; headers?: undefined }
  > {
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(conditions.range ? { Range: conditions.range } : {}),
          ...(conditions.ifNoneMatch ? { IfNoneMatch: conditions.ifNoneMatch } : {}),
          ...(conditions.ifModifiedSince ? { IfModifiedSince: new Date(conditions.ifModifiedSince) } : {}),
        }),
      );
      return { status: res.ContentRange ? 206 : 200, body: res.Body as Readable, headers: res };
    } catch (err) {
      const status = err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
      if (status === 304 || status === 404 || status === 416) return { status };
      return unreachable(err);
    }
  }

  /**
   * Streams an object to a local file (never whole in memory), passing each chunk to `onChunk`
   * (e.g. a hash). Returns the ETag of what was read, or undefined when the object is gone, or (with
   * `ifMatch`) is no longer the object with that ETag: storage checks it, so the bytes read are that object's.
   */
  async downloadTo(
    key: string,
    file: string,
    onChunk?: (chunk: Buffer) => void,
    opts: { ifMatch?: string } = {},
  ): Promise<{ etag: string; size: number } | undefined> {
    let res: GetObjectCommandOutput;
    try {
      res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(opts.ifMatch ? { IfMatch: `"${opts.ifMatch}"` } : {}),
        }),
      );
    } catch (err) {
      const code = s3ErrorCode(err);
      if (code === 'NoSuchKey' || code === 'NotFound' || code === 'PreconditionFailed') return undefined;
      return unreachable(err);
    }
    let size = 0;
    await pipeline(
      res.Body as Readable,
      async function* (source: AsyncIterable<Buffer>) {
        for await (const chunk of source) {
          size += chunk.length;
          onChunk?.(chunk);
          yield chunk;
        }
      },
      fs.createWriteStream(file),
    ).catch(unreachable);
    return { etag: (res.ETag ?? '').replace(/"/g, ''), size };
  }

  /**
   * Writes a file under a key that is written once (variants, stored renderings): `If-None-Match: *`, so
   * an object already at the key is never replaced, whoever wrote it and whenever. When there is one, it
   * says whether that object holds the file's bytes (its ETag is their MD5, as S3 computes it for a
   * single PUT to an SSE-S3 bucket; an ETag of any other kind counts as other bytes).
   */
  async putFileOnce(
    key: string,
    file: string,
    contentType: string,
    cacheControl: string | undefined,
  ): Promise<CreateOnceResult> {
    // A 409 (two conditional writers raced) or an object gone between the 412 and the HEAD: try again, twice.
    for (let attempt = 1; ; attempt++) {
      let code: string | undefined;
      try {
        await this.conditional((withCondition) =>
          this.sendFile(
            key,
            file,
            contentType,
            cacheControl,
            withCondition ? { ifNoneMatch: '*' } : undefined,
          ),
        );
        return { written: true };
      } catch (err) {
        code = s3ErrorCode(err);
        if (code !== 'PreconditionFailed' && code !== 'ConditionalRequestConflict') return unreachable(err);
      }
      const existing = code === 'PreconditionFailed' ? await this.head(key) : undefined;
      if (existing) {
        return { written: false, etag: existing.etag, sameBytes: existing.etag === (await md5Of(file)) };
      }
      if (attempt === 3) {
        throw new DomainError('storage_unavailable', `${key} kept changing while it was written`, 5);
      }
    }
  }

  /** Replaces the object at `key` only while it is still the one with `etag` (If-Match); false once it is not. */
  async replaceFile(
    key: string,
    file: string,
    contentType: string,
    cacheControl: string | undefined,
    etag: string,
  ): Promise<boolean> {
    try {
      await this.conditional((withCondition) =>
        this.sendFile(key, file, contentType, cacheControl, withCondition ? { ifMatch: etag } : undefined),
      );
      return true;
    } catch (err) {
      const code = s3ErrorCode(err);
      // Ceph RGW 16 answers If-Match on a missing key 412, S3 404 NoSuchKey: either way, not that object.
      if (code === 'PreconditionFailed' || code === 'ConditionalRequestConflict' || code === 'NoSuchKey') {
        return false;
      }
      return unreachable(err);
    }
  }

  /** PutObject of a local file, streamed, with an optional write condition; service errors as the SDK throws them. */
  private async sendFile(
    key: string,
    file: string,
    contentType: string,
    cacheControl: string | undefined,
    condition: { ifNoneMatch: '*' } | { ifMatch: string } | undefined,
  ): Promise<void> {
    const { size } = await fs.promises.stat(file);
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: fs.createReadStream(file),
        ContentLength: size,
        ContentType: contentType,
        CacheControl: cacheControl,
        ...(condition && 'ifNoneMatch' in condition ? { IfNoneMatch: condition.ifNoneMatch } : {}),
        ...(condition && 'ifMatch' in condition ? { IfMatch: `"${condition.ifMatch}"` } : {}),
      }),
    );
  }

  /** One page of keys under `prefix` (with sizes), for the janitor. */
  async listPage(
    prefix: string,
    token?: string,
  ): Promise<{ keys: { key: string; size: number; lastModified: number }[]; next?: string }> {
    const page = await this.client
      .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }))
      .catch(unreachable);
    return {
      keys: (page.Contents ?? []).map((o) => ({
        key: o.Key!,
        size: o.Size ?? 0,
        lastModified: o.LastModified?.getTime() ?? 0,
      })),
      ...(page.NextContinuationToken ? { next: page.NextContinuationToken } : {}),
    };
  }

  /** One page of the "folders" right under `prefix` (`{prefix}{name}/`), for the janitor. */
  async listPrefixes(prefix: string, token?: string): Promise<{ prefixes: string[]; next?: string }> {
    const page = await this.client
      .send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          Delimiter: '/',
          ContinuationToken: token,
        }),
      )
      .catch(unreachable);
    return {
      prefixes: (page.CommonPrefixes ?? []).map((p) => p.Prefix!),
      ...(page.NextContinuationToken ? { next: page.NextContinuationToken } : {}),
    };
  }

  /** Multipart uploads in progress under `prefix` (first 1000), for the janitor. */
  async listMultipartUploads(
    prefix: string,
  ): Promise<{ key: string; uploadId: string; initiated: number }[]> {
    const res = await this.client
      .send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix }))
      .catch(unreachable);
    return (res.Uploads ?? []).map((u) => ({
      key: u.Key!,
      uploadId: u.UploadId!,
      initiated: u.Initiated?.getTime() ?? 0,
    }));
  }

  /** Deletes the given keys and everything under the given prefixes; returns every key it deleted. */
  async deleteAll(keys: readonly string[], prefixes: readonly string[] = []): Promise<string[]> {
    const all = [...keys];
    for (const Prefix of prefixes) {
      let token: string | undefined;
      do {
        const page = await this.client
          .send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken: token }))
          .catch(unreachable);
        all.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.NextContinuationToken;
      } while (token);
    }
    for (let i = 0; i < all.length; i += 1000) {
      await this.client
        .send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: all.slice(i, i + 1000).map((Key) => ({ Key })), Quiet: true },
          }),
        )
        .catch(unreachable);
    }
    return all;
  }

  /** Whether the bucket answers (for /healthz). */
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket })).catch(unreachable);
  }
}

/** S3's ETag for a multipart object: the MD5 of the parts' binary MD5s, then `-` and the part count. */
export function multipartEtag(parts: readonly { etag: string }[]): string {
  const md5 = createHash('md5');
  for (const p of parts) md5.update(Buffer.from(p.etag.replace(/"/g, ''), 'hex'));
  return `${md5.digest('hex')}-${parts.length}`;
}

/** The hex MD5 of a local file, streamed. */
async function md5Of(file: string): Promise<string> {
  const md5 = createHash('md5');
  for await (const chunk of fs.createReadStream(file)) md5.update(chunk as Buffer);
  return md5.digest('hex');
}
