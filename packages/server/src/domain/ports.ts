/**
 * The small interfaces the domain needs from the world, declared here so the domain imports no adapter:
 * storage/gateway.ts implements Presigner and ObjectStorage over the AWS SDK, delivery/signed-urls.ts
 * implements UrlSigner with CloudFront's format.
 */

/** Makes signed URLs; toImageView takes one for private images. */
export interface UrlSigner {
  /** `url` plus Expires, Key-Pair-Id and Signature. */
  sign(url: string): string;
}

/** Where a signer comes from: undefined on a process that can verify signed URLs but not make them. */
export interface UrlSigning {
  readonly signer: UrlSigner | undefined;
}

/** Presigned requests that send an original's bytes straight to storage. */
export interface Presigner {
  /** A PUT URL binding key, Content-Type, Content-Length and (when given) the body's SHA-256 (base64). */
  presignPut(opts: {
    key: string;
    contentType: string;
    contentLength: number;
    sha256?: string | undefined;
    expiresIn: number;
  }): Promise<{ url: string; headers: Record<string, string> }>;
  /** A browser POST form whose policy pins the key, the Content-Type and a length range. */
  presignPost(opts: {
    key: string;
    contentType: string;
    maxBytes: number;
    sha256?: string | undefined;
    expiresIn: number;
  }): Promise<{ url: string; fields: Record<string, string> }>;
  /** A part URL that binds the part's exact length. */
  presignPart(opts: {
    key: string;
    uploadId: string;
    partNumber: number;
    contentLength: number;
    expiresIn: number;
  }): Promise<string>;
}

/** What HeadObject tells about an object. */
export interface ObjectInfo {
  size: number;
  etag: string;
  contentType: string | undefined;
}

/**
 * What a create-once CompleteMultipartUpload found: it completed (or had completed, its answer lost), or
 * the key already held another object, which is left as it is.
 */
export type CompleteResult =
  | { outcome: 'completed'; etag: string | undefined }
  | { outcome: 'key-taken'; existing: ObjectInfo | undefined };

/**
 * The object operations the upload flow needs. Storage that cannot be reached fails with a DomainError
 * `storage_unavailable`; a request storage refuses fails with a StorageRefusal (see errors.ts).
 */
export interface ObjectStorage {
  /** Starts a multipart upload; returns its upload id. */
  createMultipart(key: string, contentType: string): Promise<string>;
  /** Completes a multipart upload from the client's part list, never replacing an object already there. */
  completeMultipart(
    key: string,
    uploadId: string,
    parts: readonly { partNumber: number; etag: string }[],
  ): Promise<CompleteResult>;
  /** Aborts a multipart upload; one that no longer exists is fine. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
  /** The object's size and ETag, or undefined when there is none. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Deletes the keys and everything under the prefixes; returns every key deleted. */
  deleteAll(keys: readonly string[], prefixes?: readonly string[]): Promise<string[]>;
}
