// The embedded server's storage, seen from the outside: what is on disk after an abort, and an index
// written by an older version opened by this one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectStore } from '../src/store/object-store.ts';
import { SCHEMA_VERSION } from '../src/store/schema.ts';
import { bytes, startTestS3, type TestS3 } from './support.ts';

let s3: TestS3;
let client: S3Client;
const Bucket = 'store-test';

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  await client.send(new CreateBucketCommand({ Bucket }));
});
afterAll(() => s3.stop());

/** Blob files on disk (the shard folders not counted). */
function blobFiles(): number {
  const root = path.join(s3.dataDir, 'blobs');
  return fs.readdirSync(root).reduce((n, shard) => n + fs.readdirSync(path.join(root, shard)).length, 0);
}

describe('multipart parts on disk', () => {
  it('an aborted upload leaves none of its part files behind', async () => {
    const before = blobFiles();
    const Key = 'mp/aborted.bin';
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
    for (const PartNumber of [1, 2])
      await client.send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber, Body: bytes(1000, PartNumber) }),
      );
    expect(blobFiles()).toBeGreaterThan(before);
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
    expect(blobFiles()).toBe(before);
  });
});

describe('schema migration', () => {
  it('adds the tags columns to an index written before tagging, keeping its objects', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-s3-v1-'));
    try {
      const db = new Database(path.join(dir, 'index.sqlite'));
      // The version 1 tables as they were, with one object row.
      db.exec(`
        CREATE TABLE buckets (name TEXT PRIMARY KEY, created_at INTEGER NOT NULL, cors TEXT, notification TEXT);
        CREATE TABLE objects (bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL,
          etag TEXT NOT NULL, last_modified INTEGER NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL,
          checksum_algorithm TEXT, checksum_value TEXT, checksum_type TEXT, parts_count INTEGER,
          PRIMARY KEY (bucket, key)) WITHOUT ROWID;
        CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL,
          initiated INTEGER NOT NULL, headers TEXT NOT NULL, metadata TEXT NOT NULL, checksum_algorithm TEXT);
        CREATE TABLE parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob TEXT NOT NULL,
          size INTEGER NOT NULL, etag TEXT NOT NULL, checksum_value TEXT, last_modified INTEGER NOT NULL,
          PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
        CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, destination TEXT NOT NULL, body TEXT NOT NULL,
          attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL);
        INSERT INTO buckets VALUES ('b', 1, NULL, NULL);
        INSERT INTO objects VALUES ('b', 'k', 'nosuchblob', 0, 'e', 1, '{}', '{}', NULL, NULL, NULL, NULL);
        PRAGMA user_version = 1;
      `);
      db.close();
      const store = await ObjectStore.open(dir);
      try {
        expect(store.getObject('b', 'k')?.tags).toEqual({});
        store.setObjectTags('b', 'k', { a: '1' });
        expect(store.getObject('b', 'k')?.tags).toEqual({ a: '1' });
      } finally {
        store.close();
      }
      const check = new Database(path.join(dir, 'index.sqlite'));
      expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      check.close();
      // Opening again (already migrated) changes nothing.
      (await ObjectStore.open(dir)).close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps part sizes and key versions from version 3 on; older objects and uploads get neither', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-s3-v2-'));
    try {
      const v2 = await ObjectStore.open(dir);
      v2.close();
      const db = new Database(path.join(dir, 'index.sqlite'));
      // Back to version 2's shape: drop what version 3 added, keep a multipart object and an upload.
      db.exec(`
        ALTER TABLE objects DROP COLUMN part_sizes;
        ALTER TABLE uploads DROP COLUMN key_version;
        DROP TABLE completed_uploads;
        INSERT INTO buckets VALUES ('b', 1, NULL, NULL);
        INSERT INTO objects (bucket, key, blob, size, etag, last_modified, headers, metadata, parts_count, tags)
          VALUES ('b', 'mp', 'nosuchblob', 10, 'e-2', 1, '{}', '{}', 2, '{}');
        INSERT INTO uploads (upload_id, bucket, key, initiated, headers, metadata, tags)
          VALUES ('u1', 'b', 'k', 1, '{}', '{}', '{}');
        PRAGMA user_version = 2;
      `);
      db.close();
      const store = await ObjectStore.open(dir);
      try {
        expect(store.getObject('b', 'mp')).toMatchObject({ partsCount: 2, partSizes: undefined });
        expect(store.requireUpload('b', 'k', 'u1').keyVersion).toBeUndefined();
        expect(store.completedUpload('b', 'k', 'u1')).toBeUndefined();
        expect(
          store.createUpload({
            bucket: 'b',
            key: 'mp',
            headers: {},
            metadata: {},
            checksumAlgorithm: undefined,
            tags: {},
          }).keyVersion,
        ).toBe('nosuchblob');
      } finally {
        store.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
