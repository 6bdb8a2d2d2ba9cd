import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ApiError } from '../api/errors.ts';

/** What HeadObject tells about an object. */
export interface ObjectInfo {
  size: number;
  etag: string;
  contentType: string | undefined;
}

/** The S3 error code of a service error, if it is one (NoSuchKey, NoSuchUpload, …). */
export function s3ErrorCode(err: unknown): string | undefined {
  return err instanceof S3ServiceException ? err.name : undefined;
}

/** Service errors are the caller's business; anything else means storage could not be reached. */
function unreachable(err: unknown): never {
  if (err instanceof S3ServiceException && (err.$metadata.httpStatusCode ?? 500) < 500) throw err;
  throw new ApiError('storage_unavailable', undefined, { 'retry-after': '5' }, { cause: err });
}

/**
 * Darkroom's storage operations on its bucket, all through the AWS SDK v3 (one code path for the
 * embedded server and for AWS).
 */
export class StorageGateway {
  constructor(
    private readonly client: S3Client,
    private readonly presigner: S3Client,
    readonly bucket: string,
  ) {}

  /** A PUT URL binding key, Content-Type, Content-Length and (when given) the SHA-256 of the body. */
  async presignPut(opts: {
    key: string;
    contentType: string;
    contentLength: number;
    sha256?: string;
    expiresIn: number;
  }) {
    const url = await getSignedUrl(
      this.presigner,
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: opts.key,
        ContentType: opts.contentType,
        ContentLength: opts.contentLength,
        ...(opts.sha256 ? { ChecksumSHA256: opts.sha256 } : {}),
      }),
      // content-type is not signed by default; without it any type could be sent.
      { expiresIn: opts.expiresIn, signableHeaders: new Set(['content-type', 'content-length']) },
    ).catch(unreachable);
    return { url, headers: { 'Content-Type': opts.contentType } };
  }

  /** A browser POST form whose policy pins the key, the Content-Type and a length range. */
  async presignPost(opts: { key: string; contentType: string; maxBytes: number; expiresIn: number }) {
    return createPresignedPost(this.presigner, {
      Bucket: this.bucket,
      Key: opts.key,
      Conditions: [
        ['eq', '$Content-Type', opts.contentType],
        ['content-length-range', 1, opts.maxBytes],
      ],
      Fields: { 'Content-Type': opts.contentType },
      Expires: opts.expiresIn,
    }).catch(unreachable);
  }

  async createMultipart(key: string, contentType: string): Promise<string> {
    const res = await this.client
      .send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }))
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
    return getSignedUrl(
      this.presigner,
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: opts.key,
        UploadId: opts.uploadId,
        PartNumber: opts.partNumber,
        ContentLength: opts.contentLength,
      }),
      { expiresIn: opts.expiresIn, signableHeaders: new Set(['content-length']) },
    ).catch(unreachable);
  }

  async completeMultipart(
    key: string,
    uploadId: string,
    parts: readonly { partNumber: number; etag: string }[],
  ) {
    const res = await this.client
      .send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts.map((p) => ({ PartNumber: p.partNumber, ETag: p.etag })) },
        }),
      )
      .catch(unreachable);
    return res.ETag;
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await this.client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }))
      .catch((err) => {
        if (s3ErrorCode(err) !== 'NoSuchUpload') unreachable(err);
      });
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

  /** Deletes the given keys and everything under the given prefixes. */
  async deleteAll(keys: readonly string[], prefixes: readonly string[] = []): Promise<void> {
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
  }

  /** Whether the bucket answers (for /healthz). */
  async ping(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.bucket })).catch(unreachable);
  }
}
