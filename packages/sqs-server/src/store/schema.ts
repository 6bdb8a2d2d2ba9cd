/**
 * The embedded SQS server's database. Every state change (send, receive, delete, visibility change,
 * redrive, purge) is one SQLite transaction in WAL mode, so a killed process loses nothing it answered.
 *
 * A message is visible when `visible_at <= now`. Invisible messages are delayed while they have never
 * been received (`receive_count = 0`), in flight otherwise. `receipt` is the nonce of the latest receive:
 * only the receipt handle carrying it may change the message's visibility.
 */
export const SCHEMA_VERSION = 1;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS queues (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  attributes TEXT NOT NULL,
  tags TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  queue_id INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  body TEXT NOT NULL,
  md5_of_body TEXT NOT NULL,
  attributes TEXT,
  system_attributes TEXT,
  sender_id TEXT NOT NULL,
  message_group_id TEXT,
  dead_letter_source_arn TEXT,
  sent_at INTEGER NOT NULL,
  visible_at INTEGER NOT NULL,
  receive_count INTEGER NOT NULL DEFAULT 0,
  first_received_at INTEGER,
  received_at INTEGER,
  receipt TEXT
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (queue_id, visible_at, seq);
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (queue_id, sent_at);
`;
