/**
 * The embedded S3 server's index. Object bytes live in blob files named by random ids; this index is the
 * only thing that makes a blob visible, so an object appears whole (committed row) or not at all.
 */
export const SCHEMA_VERSION = 3;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS buckets (
  name TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL,
  cors TEXT,
  notification TEXT
);
CREATE TABLE IF NOT EXISTS objects (
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  last_modified INTEGER NOT NULL,
  headers TEXT NOT NULL,
  metadata TEXT NOT NULL,
  checksum_algorithm TEXT,
  checksum_value TEXT,
  checksum_type TEXT,
  parts_count INTEGER,
  tags TEXT NOT NULL DEFAULT '{}',
  part_sizes TEXT,
  PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  initiated INTEGER NOT NULL,
  headers TEXT NOT NULL,
  metadata TEXT NOT NULL,
  checksum_algorithm TEXT,
  tags TEXT NOT NULL DEFAULT '{}',
  key_version TEXT
);
CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (bucket, key, initiated);
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  blob TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  checksum_value TEXT,
  last_modified INTEGER NOT NULL,
  PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS completed_uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  parts TEXT NOT NULL,
  result TEXT NOT NULL,
  completed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS completed_uploads_by_time ON completed_uploads (completed_at);
CREATE TABLE IF NOT EXISTS outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  destination TEXT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL
);
`;

/**
 * Steps that bring an index written by an older version up to SCHEMA_VERSION: entry N runs on a store at
 * version N - 1. A new store gets SCHEMA as it stands and skips them all.
 */
export const MIGRATIONS: Readonly<Record<number, string>> = {
  // Object tags (x-amz-tagging), carried from a multipart upload to the object it completes.
  2: `
ALTER TABLE objects ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
ALTER TABLE uploads ADD COLUMN tags TEXT NOT NULL DEFAULT '{}';
`,
  // Part boundaries of multipart objects (GetObject ?partNumber); the object an upload began over, for
  // conditional completes; and completed uploads, so that a retried Complete gets the same answer.
  // Uploads begun before this version have no key_version (NULL): their completes skip the conflict check.
  3: `
ALTER TABLE objects ADD COLUMN part_sizes TEXT;
ALTER TABLE uploads ADD COLUMN key_version TEXT;
CREATE TABLE completed_uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  parts TEXT NOT NULL,
  result TEXT NOT NULL,
  completed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX completed_uploads_by_time ON completed_uploads (completed_at);
`,
};
