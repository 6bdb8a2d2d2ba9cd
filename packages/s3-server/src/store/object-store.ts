import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { ChecksumAlgorithm } from '@darkroom/aws-auth';
import Database from 'better-sqlite3';
import { S3Error } from '../errors.ts';
import type { TagSet } from '../tagging.ts';
import { MIGRATIONS, SCHEMA, SCHEMA_VERSION } from './schema.ts';

/** Representation headers S3 stores with an object and returns on GET/HEAD. */
export interface StoredHeaders {
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  expires?: string;
}

export interface StoredChecksum {
  algorithm: ChecksumAlgorithm;
  value: string;
  type: 'FULL_OBJECT' | 'COMPOSITE';
}

export interface ObjectRecord {
  bucket: string;
  key: string;
  blob: string;
  size: number;
  /** MD5 hex, or `md5-of-md5s-N` for multipart objects; without quotes. */
  etag: string;
  lastModified: number;
  headers: StoredHeaders;
  metadata: Record<string, string>;
  checksum: StoredChecksum | undefined;
  /** Parts of a multipart object; also set, without sizes, for one stored before sizes were kept. */
  partsCount: number | undefined;
  /** Each part's size, in order, for a multipart object (GetObject ?partNumber). */
  partSizes: number[] | undefined;
  /** Object tags (`?tagging`, `x-amz-tagging`); empty when none. */
  tags: TagSet;
}

/** What a write supplies for a new object; the store adds where its bytes are, their size and time. */
export type NewObject = Omit<ObjectRecord, 'blob' | 'size' | 'lastModified' | 'partsCount'> & {
  lastModified?: number;
};

/**
 * Checks, inside the transaction that would publish a write, the object the key holds at that moment
 * (undefined when none); throwing aborts the write. Conditional writes use it (If-Match, If-None-Match).
 */
export type WriteGuard = (current: ObjectRecord | undefined) => void;

/** The answer a completed multipart upload gave, kept so that a retried Complete gets it again. */
export interface CompletedUpload {
  /** The part list the upload was completed with: [partNumber, ETag without quotes] in order. */
  parts: [number, string][];
  etag: string;
  checksum: StoredChecksum | undefined;
}

/** Thrown inside a Complete's transaction when another Complete of the same upload got there first. */
export class UploadAlreadyCompleted extends Error {
  constructor(readonly completed: CompletedUpload) {
    super('the multipart upload was completed meanwhile');
  }
}

/** How long a completed upload's answer is kept for retried Completes. */
export const COMPLETED_UPLOAD_TTL_MS = 24 * 60 * 60 * 1000;

export interface BucketRecord {
  name: string;
  createdAt: number;
  cors: unknown;
  notification: unknown;
}

export interface UploadRecord {
  uploadId: string;
  bucket: string;
  key: string;
  initiated: number;
  headers: StoredHeaders;
  metadata: Record<string, string>;
  checksumAlgorithm: ChecksumAlgorithm | undefined;
  /** Tags the completed object gets (x-amz-tagging on CreateMultipartUpload). */
  tags: TagSet;
  /**
   * The blob the key held when the upload began ('' for none), so a conditional Complete can tell a
   * conflicting write made meanwhile; undefined for uploads begun before the store kept it.
   */
  keyVersion: string | undefined;
}

export interface PartRecord {
  partNumber: number;
  blob: string;
  size: number;
  etag: string;
  checksumValue: string | undefined;
  lastModified: number;
}

/** A file fully received and verified, waiting in the temp folder to be committed. */
export interface ReceivedFile {
  tempPath: string;
  size: number;
  md5: Buffer;
}

/** A notification to send after the write that caused it commits (transactional outbox). */
export interface OutboxMessage {
  destination: string;
  body: string;
}

export interface OutboxRow extends OutboxMessage {
  id: number;
  attempts: number;
}

export interface ListResult {
  objects: ObjectRecord[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** Where the next page starts (exclusive), when truncated. */
  nextCursor: string | undefined;
  /** ListObjects (V1)'s NextMarker, when truncated: the last key or common prefix of this page. */
  nextMarker: string | undefined;
}

interface ObjectRow {
  bucket: string;
  key: string;
  blob: string;
  size: number;
  etag: string;
  last_modified: number;
  headers: string;
  metadata: string;
  checksum_algorithm: string | null;
  checksum_value: string | null;
  checksum_type: string | null;
  parts_count: number | null;
  tags: string;
  part_sizes: string | null;
}

interface UploadRow {
  upload_id: string;
  bucket: string;
  key: string;
  initiated: number;
  headers: string;
  metadata: string;
  checksum_algorithm: string | null;
  tags: string;
  key_version: string | null;
}

function toUpload(row: UploadRow): UploadRecord {
  return {
    uploadId: row.upload_id,
    bucket: row.bucket,
    key: row.key,
    initiated: row.initiated,
    headers: JSON.parse(row.headers) as StoredHeaders,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    checksumAlgorithm: (row.checksum_algorithm ?? undefined) as ChecksumAlgorithm | undefined,
    tags: JSON.parse(row.tags) as TagSet,
    keyVersion: row.key_version ?? undefined,
  };
}

// A key prefix followed by this sorts after every key that extends the prefix (UTF-8 binary order).
const AFTER_PREFIX = '\u{10FFFF}';

function toObject(row: ObjectRow): ObjectRecord {
  return {
    bucket: row.bucket,
    key: row.key,
    blob: row.blob,
    size: row.size,
    etag: row.etag,
    lastModified: row.last_modified,
    headers: JSON.parse(row.headers) as StoredHeaders,
    metadata: JSON.parse(row.metadata) as Record<string, string>,
    checksum:
      row.checksum_algorithm && row.checksum_value
        ? {
            algorithm: row.checksum_algorithm as ChecksumAlgorithm,
            value: row.checksum_value,
            type: (row.checksum_type ?? 'FULL_OBJECT') as StoredChecksum['type'],
          }
        : undefined,
    partsCount: row.parts_count ?? undefined,
    partSizes: row.part_sizes === null ? undefined : (JSON.parse(row.part_sizes) as number[]),
    tags: JSON.parse(row.tags) as TagSet,
  };
}

/**
 * Buckets, objects, multipart uploads and the notification outbox of the embedded S3 server.
 * Bytes are in `blobs/`, written through `tmp/` and renamed in; SQLite decides what is visible.
 */
export class ObjectStore {
  private readonly db: Database.Database;
  private readonly blobDir: string;
  private readonly tmpDir: string;
  private readonly madeDirs = new Set<string>();

  private constructor(readonly root: string) {
    this.blobDir = path.join(root, 'blobs');
    this.tmpDir = path.join(root, 'tmp');
    fs.mkdirSync(this.blobDir, { recursive: true });
    fs.mkdirSync(this.tmpDir, { recursive: true });
    this.db = new Database(path.join(root, 'index.sqlite'));
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL survives process crashes (SIGKILL); blobs are fsynced before their row commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  /** Creates the index, or brings one an older version wrote up to SCHEMA_VERSION, in one transaction. */
  private migrate(): void {
    this.db.transaction(() => {
      let version = this.db.pragma('user_version', { simple: true }) as number;
      const exists = this.db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'objects'")
        .get();
      // Version 1 was the first to set user_version; a store with tables but no version is one of those.
      if (exists && version === 0) version = 1;
      // A newer Darkroom wrote this index; running older code on it could drop what it added.
      if (version > SCHEMA_VERSION) {
        throw new Error(`The S3 index is schema version ${version}; this Darkroom knows ${SCHEMA_VERSION}.`);
      }
      if (!exists) this.db.exec(SCHEMA);
      else for (let v = version + 1; v <= SCHEMA_VERSION; v++) this.db.exec(MIGRATIONS[v] ?? '');
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  /** Opens (creating if needed) the store under `root` and removes what a crash left behind. */
  static async open(root: string): Promise<ObjectStore> {
    fs.mkdirSync(root, { recursive: true });
    const store = new ObjectStore(root);
    await store.recover();
    return store;
  }

  close(): void {
    this.db.close();
  }

  /** Deletes temp files and blobs that no committed row references (a crash between rename and commit). */
  async recover(): Promise<{ tempFiles: number; orphanBlobs: number }> {
    let tempFiles = 0;
    for (const name of await fsp.readdir(this.tmpDir)) {
      await fsp.rm(path.join(this.tmpDir, name), { force: true });
      tempFiles++;
    }
    const referenced = new Set<string>();
    for (const { blob } of this.db
      .prepare('SELECT blob FROM objects UNION ALL SELECT blob FROM parts')
      .iterate() as Iterable<{
      blob: string;
    }>) {
      referenced.add(blob);
    }
    let orphanBlobs = 0;
    for (const shard of await fsp.readdir(this.blobDir)) {
      for (const name of await fsp.readdir(path.join(this.blobDir, shard))) {
        if (!referenced.has(name)) {
          await fsp.rm(path.join(this.blobDir, shard, name), { force: true });
          orphanBlobs++;
        }
      }
    }
    return { tempFiles, orphanBlobs };
  }

  /** A fresh path in the temp folder, on the same filesystem as the blobs so rename is atomic. */
  tempPath(): string {
    return path.join(this.tmpDir, randomUUID());
  }

  /** Where a blob's bytes live. */
  blobPath(blob: string): string {
    return path.join(this.blobDir, blob.slice(0, 2), blob);
  }

  /** Moves a verified temp file into the blob area under a new random name; returns that name. */
  private async adopt(tempPath: string): Promise<string> {
    const blob = randomBytes(16).toString('hex');
    const dir = path.dirname(this.blobPath(blob));
    if (!this.madeDirs.has(dir)) {
      await fsp.mkdir(dir, { recursive: true });
      this.madeDirs.add(dir);
    }
    await fsp.rename(tempPath, this.blobPath(blob));
    return blob;
  }

  private async unlinkBlobs(blobs: Iterable<string>): Promise<void> {
    await Promise.all([...blobs].map((b) => fsp.rm(this.blobPath(b), { force: true })));
  }

  // ---- buckets ----

  /** Creates a bucket; returns false when it already existed. */
  createBucket(name: string, now = Date.now()): boolean {
    return (
      this.db.prepare('INSERT OR IGNORE INTO buckets (name, created_at) VALUES (?, ?)').run(name, now)
        .changes === 1
    );
  }

  getBucket(name: string): BucketRecord | undefined {
    const row = this.db.prepare('SELECT * FROM buckets WHERE name = ?').get(name) as
      | { name: string; created_at: number; cors: string | null; notification: string | null }
      | undefined;
    if (!row) return undefined;
    return {
      name: row.name,
      createdAt: row.created_at,
      cors: row.cors === null ? undefined : JSON.parse(row.cors),
      notification: row.notification === null ? undefined : JSON.parse(row.notification),
    };
  }

  /** The bucket, or NoSuchBucket. */
  requireBucket(name: string): BucketRecord {
    const bucket = this.getBucket(name);
    if (!bucket) throw new S3Error('NoSuchBucket', undefined, { BucketName: name });
    return bucket;
  }

  listBuckets(): BucketRecord[] {
    return (this.db.prepare('SELECT name FROM buckets ORDER BY name').all() as { name: string }[]).map(
      (r) => this.getBucket(r.name)!,
    );
  }

  /** Deletes an empty bucket; BucketNotEmpty when objects or multipart uploads remain. */
  deleteBucket(name: string): void {
    this.requireBucket(name);
    const busy =
      this.db.prepare('SELECT 1 FROM objects WHERE bucket = ? LIMIT 1').get(name) ??
      this.db.prepare('SELECT 1 FROM uploads WHERE bucket = ? LIMIT 1').get(name);
    if (busy) throw new S3Error('BucketNotEmpty', undefined, { BucketName: name });
    this.db.prepare('DELETE FROM buckets WHERE name = ?').run(name);
  }

  setBucketConfig(name: string, field: 'cors' | 'notification', value: unknown): void {
    this.requireBucket(name);
    this.db
      .prepare(`UPDATE buckets SET ${field} = ? WHERE name = ?`)
      .run(value === undefined ? null : JSON.stringify(value), name);
  }

  // ---- objects ----

  getObject(bucket: string, key: string): ObjectRecord | undefined {
    const row = this.db.prepare('SELECT * FROM objects WHERE bucket = ? AND key = ?').get(bucket, key) as
      | ObjectRow
      | undefined;
    return row && toObject(row);
  }

  /**
   * Makes a received file the object at bucket/key, atomically: rename into the blob area, then one
   * transaction replaces the row and queues its notifications. The replaced blob is removed afterwards.
   */
  async commitObject(
    file: ReceivedFile,
    record: NewObject,
    notify: (rec: ObjectRecord) => OutboxMessage[],
    guard?: WriteGuard,
  ): Promise<ObjectRecord> {
    const blob = await this.adopt(file.tempPath);
    const full: ObjectRecord = {
      ...record,
      blob,
      size: file.size,
      lastModified: record.lastModified ?? Date.now(),
      partsCount: record.partSizes?.length,
    };
    let replaced: string | undefined;
    try {
      this.db.transaction(() => {
        this.requireBucket(full.bucket);
        const current = this.getObject(full.bucket, full.key);
        guard?.(current);
        replaced = current?.blob;
        this.upsertObject(full);
        this.enqueue(notify(full));
      })();
    } catch (err) {
      await this.unlinkBlobs([blob]);
      throw err;
    }
    if (replaced) await this.unlinkBlobs([replaced]);
    return full;
  }

  private upsertObject(r: ObjectRecord): void {
    this.db
      .prepare(
        `INSERT OR REPLACE INTO objects
         (bucket, key, blob, size, etag, last_modified, headers, metadata, checksum_algorithm, checksum_value, checksum_type, parts_count, tags, part_sizes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.bucket,
        r.key,
        r.blob,
        r.size,
        r.etag,
        r.lastModified,
        JSON.stringify(r.headers),
        JSON.stringify(r.metadata),
        r.checksum?.algorithm ?? null,
        r.checksum?.value ?? null,
        r.checksum?.type ?? null,
        r.partsCount ?? null,
        JSON.stringify(r.tags),
        r.partSizes ? JSON.stringify(r.partSizes) : null,
      );
  }

  /**
   * Replaces an object's tags (empty deletes them) without touching its bytes or Last-Modified, as
   * Put/DeleteObjectTagging do; NoSuchKey when there is no such object.
   */
  setObjectTags(bucket: string, key: string, tags: TagSet): void {
    const changed = this.db
      .prepare('UPDATE objects SET tags = ? WHERE bucket = ? AND key = ?')
      .run(JSON.stringify(tags), bucket, key).changes;
    if (changed === 0) throw new S3Error('NoSuchKey', undefined, { Key: key });
  }

  /** Deletes an object; returns whether it existed (S3 answers 204 either way). */
  async deleteObject(bucket: string, key: string): Promise<boolean> {
    const row = this.db
      .prepare('DELETE FROM objects WHERE bucket = ? AND key = ? RETURNING blob')
      .get(bucket, key) as { blob: string } | undefined;
    if (row) await this.unlinkBlobs([row.blob]);
    return row !== undefined;
  }

  /**
   * Lists keys in UTF-8 binary order after `after`, grouping keys that share `prefix…delimiter` into
   * common prefixes, as ListObjects does. Ordering is SQLite's BINARY collation, which is S3's order.
   */
  listObjects(
    bucket: string,
    opts: { prefix: string; delimiter: string; after: string; maxKeys: number },
  ): ListResult {
    const { prefix, delimiter, maxKeys } = opts;
    const objects: ObjectRecord[] = [];
    const commonPrefixes: string[] = [];
    let cursor = opts.after > prefix ? opts.after : prefix;
    let last: string | undefined;
    let inclusive = opts.after <= prefix && opts.after !== prefix;
    const next = this.db.prepare(
      'SELECT * FROM objects WHERE bucket = ? AND (key > ? OR (? AND key = ?)) ORDER BY key LIMIT ?',
    );
    const batch = Math.min(Math.max(maxKeys, 1), 1000) + 1;
    scan: while (objects.length + commonPrefixes.length < maxKeys) {
      const rows = next.all(bucket, cursor, inclusive ? 1 : 0, cursor, batch) as ObjectRow[];
      inclusive = false;
      if (rows.length === 0) break;
      for (const row of rows) {
        if (!row.key.startsWith(prefix)) break scan;
        if (delimiter) {
          const at = row.key.indexOf(delimiter, prefix.length);
          if (at >= 0) {
            const common = row.key.slice(0, at + delimiter.length);
            // A prefix at or before the marker was listed already: a V1 NextMarker names the prefix itself.
            if (common > opts.after) {
              commonPrefixes.push(common);
              last = common;
            }
            cursor = common + AFTER_PREFIX;
            continue scan;
          }
        }
        objects.push(toObject(row));
        cursor = row.key;
        last = row.key;
        if (objects.length + commonPrefixes.length >= maxKeys) break scan;
      }
    }
    const more =
      maxKeys > 0
        ? (this.db
            .prepare('SELECT key FROM objects WHERE bucket = ? AND key > ? ORDER BY key LIMIT 1')
            .get(bucket, cursor) as { key: string } | undefined)
        : undefined;
    const isTruncated = Boolean(more?.key.startsWith(prefix));
    return {
      objects,
      commonPrefixes,
      isTruncated,
      nextCursor: isTruncated ? cursor : undefined,
      nextMarker: isTruncated ? last : undefined,
    };
  }

  // ---- multipart uploads ----

  /** Starts a multipart upload, noting which object (if any) the key holds now. */
  createUpload(rec: Omit<UploadRecord, 'uploadId' | 'initiated' | 'keyVersion'>): UploadRecord {
    return this.db.transaction(() => {
      this.requireBucket(rec.bucket);
      const upload: UploadRecord = {
        ...rec,
        uploadId: randomBytes(24).toString('base64url'),
        initiated: Date.now(),
        keyVersion: this.getObject(rec.bucket, rec.key)?.blob ?? '',
      };
      this.db
        .prepare(
          'INSERT INTO uploads (upload_id, bucket, key, initiated, headers, metadata, checksum_algorithm, tags, key_version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(
          upload.uploadId,
          upload.bucket,
          upload.key,
          upload.initiated,
          JSON.stringify(upload.headers),
          JSON.stringify(upload.metadata),
          upload.checksumAlgorithm ?? null,
          JSON.stringify(upload.tags),
          upload.keyVersion ?? null,
        );
      return upload;
    })();
  }

  /** The upload for bucket/key with this id, if it is in progress. */
  findUpload(bucket: string, key: string, uploadId: string): UploadRecord | undefined {
    const row = this.db
      .prepare('SELECT * FROM uploads WHERE upload_id = ? AND bucket = ? AND key = ?')
      .get(uploadId, bucket, key) as UploadRow | undefined;
    return row && toUpload(row);
  }

  /** The upload for bucket/key with this id, or NoSuchUpload. */
  requireUpload(bucket: string, key: string, uploadId: string): UploadRecord {
    const upload = this.findUpload(bucket, key, uploadId);
    if (!upload) throw new S3Error('NoSuchUpload', undefined, { UploadId: uploadId });
    return upload;
  }

  /** The answer a recently completed upload of bucket/key gave, if it is still kept. */
  completedUpload(
    bucket: string,
    key: string,
    uploadId: string,
    now = Date.now(),
  ): CompletedUpload | undefined {
    const row = this.db
      .prepare(
        'SELECT parts, result FROM completed_uploads WHERE upload_id = ? AND bucket = ? AND key = ? AND completed_at > ?',
      )
      .get(uploadId, bucket, key, now - COMPLETED_UPLOAD_TTL_MS) as
      | { parts: string; result: string }
      | undefined;
    if (!row) return undefined;
    return { ...(JSON.parse(row.result) as Omit<CompletedUpload, 'parts'>), parts: JSON.parse(row.parts) };
  }

  listUploads(
    bucket: string,
    opts: { prefix: string; keyMarker: string; uploadIdMarker: string; maxUploads: number },
  ): { uploads: UploadRecord[]; isTruncated: boolean } {
    const rows = this.db
      .prepare(
        `SELECT * FROM uploads WHERE bucket = ? AND substr(key, 1, ?) = ?
         AND (key > ? OR (key = ? AND upload_id > ?)) ORDER BY key, initiated, upload_id LIMIT ?`,
      )
      .all(
        bucket,
        opts.prefix.length,
        opts.prefix,
        opts.keyMarker,
        opts.keyMarker,
        opts.uploadIdMarker,
        opts.maxUploads + 1,
      ) as UploadRow[];
    return {
      uploads: rows.slice(0, opts.maxUploads).map(toUpload),
      isTruncated: rows.length > opts.maxUploads,
    };
  }

  /** Stores (or replaces) one part of an upload. */
  async putPart(
    upload: UploadRecord,
    partNumber: number,
    file: ReceivedFile,
    etag: string,
    checksumValue?: string,
  ) {
    const blob = await this.adopt(file.tempPath);
    let replaced: string | undefined;
    try {
      this.db.transaction(() => {
        this.requireUpload(upload.bucket, upload.key, upload.uploadId);
        replaced = (
          this.db
            .prepare('SELECT blob FROM parts WHERE upload_id = ? AND part_number = ?')
            .get(upload.uploadId, partNumber) as { blob: string } | undefined
        )?.blob;
        this.db
          .prepare(
            'INSERT OR REPLACE INTO parts (upload_id, part_number, blob, size, etag, checksum_value, last_modified) VALUES (?, ?, ?, ?, ?, ?, ?)',
          )
          .run(upload.uploadId, partNumber, blob, file.size, etag, checksumValue ?? null, Date.now());
      })();
    } catch (err) {
      await this.unlinkBlobs([blob]);
      throw err;
    }
    if (replaced) await this.unlinkBlobs([replaced]);
  }

  listParts(uploadId: string, after = 0, max = 10_000): PartRecord[] {
    return (
      this.db
        .prepare('SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?')
        .all(uploadId, after, max) as {
        part_number: number;
        blob: string;
        size: number;
        etag: string;
        checksum_value: string | null;
        last_modified: number;
      }[]
    ).map((r) => ({
      partNumber: r.part_number,
      blob: r.blob,
      size: r.size,
      etag: r.etag,
      checksumValue: r.checksum_value ?? undefined,
      lastModified: r.last_modified,
    }));
  }

  /**
   * Turns an assembled temp file into the object, drops the upload and its parts and records the answer
   * for retried Completes, in one transaction, so a crash leaves either the upload (retry completes it)
   * or the object. When a concurrent Complete of the same upload won, throws UploadAlreadyCompleted
   * with its answer (or NoSuchUpload when the upload is otherwise gone).
   */
  async completeUpload(
    upload: UploadRecord,
    file: ReceivedFile,
    record: NewObject,
    completed: CompletedUpload,
    notify: (rec: ObjectRecord) => OutboxMessage[],
    guard?: WriteGuard,
  ): Promise<ObjectRecord> {
    const partBlobs = this.listParts(upload.uploadId).map((p) => p.blob);
    const now = Date.now();
    const committed = await this.commitObject(
      file,
      record,
      (rec) => {
        this.db.prepare('DELETE FROM parts WHERE upload_id = ?').run(upload.uploadId);
        this.db
          .prepare('DELETE FROM completed_uploads WHERE completed_at <= ?')
          .run(now - COMPLETED_UPLOAD_TTL_MS);
        const { parts, ...result } = completed;
        this.db
          .prepare(
            'INSERT INTO completed_uploads (upload_id, bucket, key, parts, result, completed_at) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(
            upload.uploadId,
            upload.bucket,
            upload.key,
            JSON.stringify(parts),
            JSON.stringify(result),
            now,
          );
        return notify(rec);
      },
      (current) => {
        // Checked before anything else: a Complete that lost the race must not publish its copy.
        const gone = this.db.prepare('DELETE FROM uploads WHERE upload_id = ?').run(upload.uploadId).changes;
        if (gone === 0) {
          const won = this.completedUpload(upload.bucket, upload.key, upload.uploadId, now);
          if (won) throw new UploadAlreadyCompleted(won);
          throw new S3Error('NoSuchUpload', undefined, { UploadId: upload.uploadId });
        }
        guard?.(current);
      },
    );
    await this.unlinkBlobs(partBlobs);
    return committed;
  }

  /** Removes an upload and its parts; NoSuchUpload when it is not there. */
  async abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    const blobs = this.db.transaction(() => {
      this.requireUpload(bucket, key, uploadId);
      const parts = this.db.prepare('DELETE FROM parts WHERE upload_id = ? RETURNING blob').all(uploadId) as {
        blob: string;
      }[];
      this.db.prepare('DELETE FROM uploads WHERE upload_id = ?').run(uploadId);
      return parts.map((p) => p.blob);
    })();
    await this.unlinkBlobs(blobs);
  }

  // ---- notification outbox ----

  /** Queues messages; call inside a write transaction so they commit with the write. */
  enqueue(messages: readonly OutboxMessage[], now = Date.now()): void {
    const insert = this.db.prepare(
      'INSERT INTO outbox (destination, body, next_attempt_at) VALUES (?, ?, ?)',
    );
    for (const m of messages) insert.run(m.destination, m.body, now);
  }

  /** Messages due for (re)delivery, oldest first. */
  dueMessages(now: number, limit: number): OutboxRow[] {
    return this.db
      .prepare(
        'SELECT id, destination, body, attempts FROM outbox WHERE next_attempt_at <= ? ORDER BY id LIMIT ?',
      )
      .all(now, limit) as OutboxRow[];
  }

  /** The earliest time any queued message is due, if any. */
  nextDue(): number | undefined {
    const row = this.db.prepare('SELECT MIN(next_attempt_at) AS t FROM outbox').get() as { t: number | null };
    return row.t ?? undefined;
  }

  markDelivered(id: number): void {
    this.db.prepare('DELETE FROM outbox WHERE id = ?').run(id);
  }

  markFailed(id: number, nextAttemptAt: number): void {
    this.db
      .prepare('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?')
      .run(nextAttemptAt, id);
  }
}
