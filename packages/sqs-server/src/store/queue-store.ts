import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { invalidParameter, SqsError } from '../errors.ts';
import { type MessageAttributes, md5OfAttributes, md5OfBody } from '../md5.ts';
import {
  ACCOUNT_ID,
  checkBody,
  checkMessageAttributes,
  checkQueueName,
  DEFAULT_QUEUE_ATTRIBUTES,
  MAX_DELAY_SECONDS,
  MAX_VISIBILITY_TIMEOUT,
  nameFromArn,
  normaliseQueueAttributes,
  queueArn,
  type RedrivePolicy,
} from '../validate.ts';
import { SCHEMA, SCHEMA_VERSION } from './schema.ts';

export interface QueueRecord {
  id: number;
  name: string;
  arn: string;
  /** Configured attributes (defaults filled in), as strings like SQS reports them. */
  attributes: Record<string, string>;
  createdAt: number;
  modifiedAt: number;
}

export interface QueueCounts {
  visible: number;
  notVisible: number;
  delayed: number;
}

/** One message to send. Validated exactly as SendMessage validates it. */
export interface SendMessageInput {
  body: string;
  /** Overrides the queue's DelaySeconds (0–900). */
  delaySeconds?: number | undefined;
  messageAttributes?: unknown;
  /** Only AWSTraceHeader (String) is accepted, as on SQS. */
  messageSystemAttributes?: unknown;
  messageGroupId?: string | undefined;
  /** Who sent it (SenderId); the access key id for HTTP requests. */
  senderId?: string | undefined;
}

export interface SendResult {
  messageId: string;
  md5OfMessageBody: string;
  md5OfMessageAttributes: string | undefined;
  md5OfMessageSystemAttributes: string | undefined;
}

export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  md5OfBody: string;
  messageAttributes: MessageAttributes | undefined;
  /** AWSTraceHeader, when the sender set it. */
  systemAttributes: MessageAttributes | undefined;
  senderId: string;
  sentTimestamp: number;
  receiveCount: number;
  firstReceiveTimestamp: number;
  messageGroupId: string | undefined;
  deadLetterQueueSourceArn: string | undefined;
}

export interface ReceiveOptions {
  maxMessages: number;
  /** Seconds; the queue's VisibilityTimeout when undefined. */
  visibilityTimeout?: number | undefined;
}

interface QueueRow {
  id: number;
  name: string;
  attributes: string;
  created_at: number;
  modified_at: number;
}

interface MessageRow {
  seq: number;
  queue_id: number;
  message_id: string;
  body: string;
  md5_of_body: string;
  attributes: string | null;
  system_attributes: string | null;
  sender_id: string;
  message_group_id: string | null;
  dead_letter_source_arn: string | null;
  sent_at: number;
  visible_at: number;
  receive_count: number;
  first_received_at: number | null;
  received_at: number | null;
  receipt: string | null;
}

interface PreparedMessage {
  body: string;
  md5OfBody: string;
  attributes: MessageAttributes | undefined;
  systemAttributes: MessageAttributes | undefined;
  delaySeconds: number;
  senderId: string;
  messageGroupId: string | undefined;
}

interface Waiter {
  wakeAt: number;
  timer: NodeJS.Timeout | undefined;
  wake(): void;
}

interface Receipt {
  queueId: number;
  seq: number;
  nonce: string;
}

/** What ChangeMessageVisibility / DeleteMessage learn about a receipt handle. */
type ReceiptLookup =
  | { state: 'current'; row: MessageRow }
  | { state: 'stale'; row: MessageRow }
  | { state: 'gone' };

function encodeReceipt(r: Receipt): string {
  return Buffer.from(`${r.queueId}:${r.seq}:${r.nonce}`, 'latin1').toString('base64url');
}

function decodeReceipt(handle: unknown): Receipt | undefined {
  if (typeof handle !== 'string' || handle.length > 1024 || !/^[A-Za-z0-9_-]+$/.test(handle)) {
    return undefined;
  }
  const m = /^(\d{1,15}):(\d{1,15}):([0-9a-f]{32})$/.exec(
    Buffer.from(handle, 'base64url').toString('latin1'),
  );
  if (!m) return undefined;
  return { queueId: Number(m[1]), seq: Number(m[2]), nonce: m[3]! };
}

function invalidReceipt(handle: unknown): SqsError {
  return new SqsError(
    'ReceiptHandleIsInvalid',
    `The input receipt handle "${String(handle)}" is not a valid receipt handle.`,
  );
}

/**
 * Queues and messages of the embedded SQS server, durable in SQLite, with in-process wake-ups for long
 * polls: a waiter sleeps until the next moment a message of its queue can become visible (a delay or a
 * visibility timeout running out) or until a send/visibility change tells it to look again.
 */
export class SqsStore {
  private readonly db: Database.Database;
  private readonly waiters = new Map<number, Set<Waiter>>();
  private closing = false;
  private readonly stmt;

  private constructor(
    readonly root: string,
    readonly region: string,
  ) {
    this.db = new Database(path.join(root, 'sqs.sqlite'));
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a committed transaction survives the process being killed (not a power cut).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    const db = this.db;
    this.stmt = {
      queueByName: db.prepare<[string], QueueRow>('SELECT * FROM queues WHERE name = ?'),
      insertQueue: db.prepare(
        'INSERT INTO queues (name, attributes, tags, created_at, modified_at) VALUES (?, ?, ?, ?, ?)',
      ),
      updateQueue: db.prepare('UPDATE queues SET attributes = ?, modified_at = ? WHERE id = ?'),
      deleteQueue: db.prepare('DELETE FROM queues WHERE id = ?'),
      listQueues: db.prepare<[number, string, string, number], { name: string }>(
        'SELECT name FROM queues WHERE substr(name, 1, ?) = ? AND name > ? ORDER BY name LIMIT ?',
      ),
      insertMessage: db.prepare(
        `INSERT INTO messages (queue_id, message_id, body, md5_of_body, attributes, system_attributes,
           sender_id, message_group_id, sent_at, visible_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      visible: db.prepare<[number, number, number, number, number], MessageRow>(
        `SELECT * FROM messages WHERE queue_id = ? AND visible_at <= ? AND (visible_at, seq) > (?, ?)
         ORDER BY visible_at, seq LIMIT ?`,
      ),
      markReceived: db.prepare(
        `UPDATE messages SET receive_count = receive_count + 1, visible_at = ?, received_at = ?,
           first_received_at = coalesce(first_received_at, ?), receipt = ? WHERE seq = ?`,
      ),
      moveToDeadLetter: db.prepare(
        `UPDATE messages SET queue_id = ?, visible_at = ?, receive_count = 0, first_received_at = NULL,
           received_at = NULL, receipt = NULL, dead_letter_source_arn = ? WHERE seq = ?`,
      ),
      messageBySeq: db.prepare<[number, number], MessageRow>(
        'SELECT * FROM messages WHERE seq = ? AND queue_id = ?',
      ),
      deleteMessage: db.prepare('DELETE FROM messages WHERE seq = ?'),
      setVisibleAt: db.prepare('UPDATE messages SET visible_at = ? WHERE seq = ?'),
      purge: db.prepare('DELETE FROM messages WHERE queue_id = ?'),
      expire: db.prepare('DELETE FROM messages WHERE queue_id = ? AND sent_at <= ?'),
      nextVisible: db.prepare<[number], { at: number | null }>(
        'SELECT min(visible_at) AS at FROM messages WHERE queue_id = ?',
      ),
      counts: db.prepare<
        { q: number; now: number },
        { visible: number | null; notVisible: number | null; delayed: number | null }
      >(
        `SELECT sum(visible_at <= @now) AS visible,
                sum(visible_at > @now AND receive_count > 0) AS notVisible,
                sum(visible_at > @now AND receive_count = 0) AS delayed
         FROM messages WHERE queue_id = @q`,
      ),
    };
  }

  /** Opens (creating if needed) the store in `root`. */
  static open(root: string, region: string): SqsStore {
    fs.mkdirSync(root, { recursive: true });
    return new SqsStore(root, region);
  }

  /** Ends every long poll now and makes new ones return at once (server shutdown). */
  shutdown(): void {
    this.closing = true;
    for (const set of this.waiters.values()) for (const w of [...set]) w.wake();
  }

  get isClosing(): boolean {
    return this.closing;
  }

  close(): void {
    this.shutdown();
    if (this.db.open) this.db.close();
  }

  // ── queues ────────────────────────────────────────────────────────────────────────────────────────

  /** A queue name from a name, an ARN (of this region and account) or a queue URL. */
  resolveQueueName(ref: string): string {
    if (ref.startsWith('arn:')) {
      const name = nameFromArn(ref, this.region);
      if (name === undefined) throw new SqsError('QueueDoesNotExist');
      return name;
    }
    if (/^https?:\/\//i.test(ref)) return queueNameFromUrl(ref);
    return ref;
  }

  findQueue(name: string): QueueRecord | undefined {
    const row = this.stmt.queueByName.get(name);
    return row && this.toQueue(row);
  }

  /** The queue, or QueueDoesNotExist. Accepts a name, an ARN or a URL. */
  getQueue(ref: string): QueueRecord {
    const queue = this.findQueue(this.resolveQueueName(ref));
    if (!queue) throw new SqsError('QueueDoesNotExist');
    return queue;
  }

  /**
   * Creates a queue, or returns the existing one when every attribute given equals its current value
   * (attributes not given are not compared); QueueAlreadyExists otherwise.
   */
  createQueue(
    name: string,
    attributes: Record<string, unknown> = {},
    tags: Record<string, string> = {},
  ): QueueRecord {
    checkQueueName(name);
    const given = normaliseQueueAttributes(attributes, this.region, (n) => this.findQueue(n) !== undefined);
    return this.db.transaction(() => {
      const existing = this.findQueue(name);
      if (existing) {
        for (const [key, value] of Object.entries(given)) {
          if ((existing.attributes[key] ?? '') !== value) {
            throw new SqsError(
              'QueueAlreadyExists',
              `A queue already exists with the same name and a different value for attribute ${key}`,
            );
          }
        }
        return existing;
      }
      const stored = withoutEmpty({ ...DEFAULT_QUEUE_ATTRIBUTES, ...given });
      const now = Date.now();
      this.stmt.insertQueue.run(name, JSON.stringify(stored), JSON.stringify(tags), now, now);
      return this.findQueue(name)!;
    })();
  }

  setQueueAttributes(ref: string, attributes: Record<string, unknown>): void {
    const queue = this.getQueue(ref);
    const given = normaliseQueueAttributes(attributes, this.region, (n) => this.findQueue(n) !== undefined);
    const stored = withoutEmpty({ ...queue.attributes, ...given });
    this.stmt.updateQueue.run(JSON.stringify(stored), Date.now(), queue.id);
    // A shorter delay or visibility timeout does not move existing messages; nothing to wake.
  }

  deleteQueue(ref: string): void {
    const queue = this.getQueue(ref);
    this.db.transaction(() => {
      this.stmt.purge.run(queue.id);
      this.stmt.deleteQueue.run(queue.id);
    })();
    this.wakeAll(queue.id);
  }

  /** Queue names in order, starting after `after`, at most `limit`. */
  listQueues(prefix: string, after: string, limit: number): string[] {
    return this.stmt.listQueues.all(prefix.length, prefix, after, limit).map((r) => r.name);
  }

  purgeQueue(ref: string): number {
    const queue = this.getQueue(ref);
    return this.stmt.purge.run(queue.id).changes;
  }

  counts(queue: QueueRecord, now = Date.now()): QueueCounts {
    this.expire(queue, now);
    const row = this.stmt.counts.get({ q: queue.id, now })!;
    return { visible: row.visible ?? 0, notVisible: row.notVisible ?? 0, delayed: row.delayed ?? 0 };
  }

  // ── messages ──────────────────────────────────────────────────────────────────────────────────────

  /**
   * Sends one message, durably, and wakes long polls on its queue. This is the in-process API (the S3
   * server's notifications use it when both servers share a process). `queue` is a name, ARN or URL.
   */
  sendMessage(queue: string, message: string | SendMessageInput): SendResult {
    const q = this.getQueue(queue);
    const prepared = this.prepare(q, typeof message === 'string' ? { body: message } : message);
    const now = Date.now();
    const result = this.insert(q, prepared, now);
    this.notify(q.id, now + prepared.delaySeconds * 1000);
    return result;
  }

  /** SendMessageBatch: each entry validated on its own; the valid ones committed in one transaction. */
  sendMessages(queue: string, messages: SendMessageInput[]): (SendResult | SqsError)[] {
    const q = this.getQueue(queue);
    const prepared = messages.map((m) => {
      try {
        return this.prepare(q, m);
      } catch (err) {
        if (err instanceof SqsError) return err;
        throw err;
      }
    });
    const now = Date.now();
    const results = this.db.transaction(() =>
      prepared.map((p) => (p instanceof SqsError ? p : this.insert(q, p, now))),
    )();
    let earliest = Number.POSITIVE_INFINITY;
    for (const p of prepared) {
      if (!(p instanceof SqsError)) earliest = Math.min(earliest, now + p.delaySeconds * 1000);
    }
    if (earliest < Number.POSITIVE_INFINITY) this.notify(q.id, earliest);
    return results;
  }

  /**
   * Receives up to `maxMessages` visible messages in one transaction, making them invisible for the
   * visibility timeout. A message already received maxReceiveCount times moves to the dead-letter queue
   * instead of being delivered (receive count reset, body, attributes and SentTimestamp kept).
   */
  receiveMessages(ref: string, opts: ReceiveOptions): ReceivedMessage[] {
    const queue = this.getQueue(ref);
    const now = Date.now();
    const visibility = opts.visibilityTimeout ?? Number(queue.attributes.VisibilityTimeout);
    const redrive = this.deadLetterTarget(queue);
    const moved = new Set<number>();
    const received = this.db.transaction(() => {
      this.expire(queue, now);
      const out: ReceivedMessage[] = [];
      // Keyset scan: rows moved to the dead-letter queue make a second page necessary, and a row just
      // received with VisibilityTimeout 0 is visible again, so it is remembered and skipped.
      const seen = new Set<number>();
      let cursor: [number, number] = [-1, -1];
      while (out.length < opts.maxMessages) {
        const rows = this.stmt.visible.all(
          queue.id,
          now,
          cursor[0],
          cursor[1],
          opts.maxMessages - out.length,
        );
        if (rows.length === 0) break;
        const last = rows[rows.length - 1]!;
        cursor = [last.visible_at, last.seq];
        for (const row of rows) {
          if (seen.has(row.seq)) continue;
          seen.add(row.seq);
          if (redrive && row.receive_count >= redrive.policy.maxReceiveCount) {
            this.stmt.moveToDeadLetter.run(redrive.target.id, now, queue.arn, row.seq);
            moved.add(redrive.target.id);
            continue;
          }
          const nonce = randomBytes(16).toString('hex');
          const visibleAt = now + visibility * 1000;
          this.stmt.markReceived.run(visibleAt, now, now, nonce, row.seq);
          out.push({
            messageId: row.message_id,
            receiptHandle: encodeReceipt({ queueId: queue.id, seq: row.seq, nonce }),
            body: row.body,
            md5OfBody: row.md5_of_body,
            messageAttributes: parseJson(row.attributes),
            systemAttributes: parseJson(row.system_attributes),
            senderId: row.sender_id,
            sentTimestamp: row.sent_at,
            receiveCount: row.receive_count + 1,
            firstReceiveTimestamp: row.first_received_at ?? now,
            messageGroupId: row.message_group_id ?? undefined,
            deadLetterQueueSourceArn: row.dead_letter_source_arn ?? undefined,
          });
        }
      }
      return out;
    })();
    for (const id of moved) this.notify(id, now);
    if (received.length > 0) this.notify(queue.id, now + visibility * 1000);
    return received;
  }

  /**
   * Deletes the message a receipt handle names. A malformed handle, or one of another queue, is
   * ReceiptHandleIsInvalid. As the SQS documentation states, an old handle "will succeed, but the
   * message might not be deleted": here a handle superseded by a later receive succeeds and deletes
   * nothing (the later receiver still owns the message); a handle of a deleted message succeeds.
   */
  deleteMessage(ref: string, receiptHandle: unknown): void {
    const queue = this.getQueue(ref);
    const found = this.lookupReceipt(queue, receiptHandle);
    if (found.state === 'current') this.stmt.deleteMessage.run(found.row.seq);
  }

  /** ChangeMessageVisibility: only the latest receipt of a message that is in flight. */
  changeVisibility(ref: string, receiptHandle: unknown, visibilityTimeout: number): void {
    const queue = this.getQueue(ref);
    const found = this.lookupReceipt(queue, receiptHandle);
    if (found.state === 'gone') {
      throw invalidParameter(
        'ReceiptHandle',
        receiptHandle,
        'Message does not exist or is not available for visibility timeout change.',
      );
    }
    if (found.state === 'stale') {
      throw invalidParameter('ReceiptHandle', receiptHandle, 'The receipt handle has expired.');
    }
    const now = Date.now();
    const { row } = found;
    if (row.visible_at <= now) {
      throw new SqsError('MessageNotInflight', `Message ${row.message_id} is not in flight.`);
    }
    const visibleAt = now + visibilityTimeout * 1000;
    if (visibleAt - (row.received_at ?? now) > MAX_VISIBILITY_TIMEOUT * 1000) {
      throw invalidParameter(
        'VisibilityTimeout',
        visibilityTimeout,
        `Total VisibilityTimeout for the message is beyond the limit [${MAX_VISIBILITY_TIMEOUT} seconds]`,
      );
    }
    this.stmt.setVisibleAt.run(visibleAt, row.seq);
    this.notify(queue.id, visibleAt);
  }

  // ── long polling ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Resolves when a message of the queue may have become receivable, at `deadline` (epoch ms) at the
   * latest, or when `signal` aborts or the store shuts down. Never polls the database in a loop: one
   * query finds the next visibility moment, and sends or visibility changes re-arm or fire the timer.
   */
  waitForMessages(queue: QueueRecord, deadline: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (this.closing || signal?.aborted) return resolve();
      let set = this.waiters.get(queue.id);
      if (!set) {
        set = new Set();
        this.waiters.set(queue.id, set);
      }
      const waiters = set;
      const waiter: Waiter = {
        wakeAt: deadline,
        timer: undefined,
        wake: () => {
          clearTimeout(waiter.timer);
          waiters.delete(waiter);
          if (waiters.size === 0 && this.waiters.get(queue.id) === waiters) this.waiters.delete(queue.id);
          signal?.removeEventListener('abort', waiter.wake);
          resolve();
        },
      };
      waiters.add(waiter);
      signal?.addEventListener('abort', waiter.wake, { once: true });
      const next = this.stmt.nextVisible.get(queue.id)?.at;
      if (next !== null && next !== undefined && next < waiter.wakeAt) waiter.wakeAt = next;
      this.arm(waiter);
    });
  }

  private arm(waiter: Waiter): void {
    clearTimeout(waiter.timer);
    waiter.timer = setTimeout(waiter.wake, Math.max(0, waiter.wakeAt - Date.now()));
  }

  /** Something in the queue becomes visible at `visibleAt`: wake waiters now, or re-arm them earlier. */
  private notify(queueId: number, visibleAt: number): void {
    const set = this.waiters.get(queueId);
    if (!set) return;
    const now = Date.now();
    for (const w of [...set]) {
      if (visibleAt <= now) w.wake();
      else if (visibleAt < w.wakeAt) {
        w.wakeAt = visibleAt;
        this.arm(w);
      }
    }
  }

  private wakeAll(queueId: number): void {
    for (const w of [...(this.waiters.get(queueId) ?? [])]) w.wake();
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────────

  private toQueue(row: QueueRow): QueueRecord {
    return {
      id: row.id,
      name: row.name,
      arn: queueArn(this.region, row.name),
      attributes: JSON.parse(row.attributes) as Record<string, string>,
      createdAt: row.created_at,
      modifiedAt: row.modified_at,
    };
  }

  private deadLetterTarget(queue: QueueRecord): { policy: RedrivePolicy; target: QueueRecord } | undefined {
    const text = queue.attributes.RedrivePolicy;
    if (!text) return undefined;
    const policy = JSON.parse(text) as RedrivePolicy;
    const name = nameFromArn(policy.deadLetterTargetArn, this.region);
    const target = name === undefined ? undefined : this.findQueue(name);
    // A deleted dead-letter queue leaves messages where they are, as SQS does.
    return target && target.id !== queue.id ? { policy, target } : undefined;
  }

  private expire(queue: QueueRecord, now: number): void {
    this.stmt.expire.run(queue.id, now - Number(queue.attributes.MessageRetentionPeriod) * 1000);
  }

  private prepare(queue: QueueRecord, input: SendMessageInput): PreparedMessage {
    const body = checkBody(input.body);
    const user = checkMessageAttributes(input.messageAttributes, 'user');
    const system = checkMessageAttributes(input.messageSystemAttributes, 'system');
    const max = Number(queue.attributes.MaximumMessageSize);
    if (Buffer.byteLength(body) + user.bytes > max) {
      throw new SqsError(
        'InvalidParameterValue',
        `One or more parameters are invalid. Reason: Message must be shorter than ${max} bytes.`,
      );
    }
    const delay = input.delaySeconds ?? Number(queue.attributes.DelaySeconds);
    if (!Number.isInteger(delay) || delay < 0 || delay > MAX_DELAY_SECONDS) {
      throw invalidParameter('DelaySeconds', delay, `DelaySeconds must be >= 0 and <= ${MAX_DELAY_SECONDS}.`);
    }
    if (input.messageGroupId !== undefined && !/^[!-~]{1,128}$/.test(input.messageGroupId)) {
      throw invalidParameter('MessageGroupId', input.messageGroupId, 'MessageGroupId is invalid.');
    }
    return {
      body,
      md5OfBody: md5OfBody(body),
      attributes: user.attributes,
      systemAttributes: system.attributes,
      delaySeconds: delay,
      senderId: input.senderId ?? ACCOUNT_ID,
      messageGroupId: input.messageGroupId,
    };
  }

  private insert(queue: QueueRecord, m: PreparedMessage, now: number): SendResult {
    const messageId = randomUUID();
    this.stmt.insertMessage.run(
      queue.id,
      messageId,
      m.body,
      m.md5OfBody,
      m.attributes ? JSON.stringify(m.attributes) : null,
      m.systemAttributes ? JSON.stringify(m.systemAttributes) : null,
      m.senderId,
      m.messageGroupId ?? null,
      now,
      now + m.delaySeconds * 1000,
    );
    return {
      messageId,
      md5OfMessageBody: m.md5OfBody,
      md5OfMessageAttributes: md5OfAttributes(m.attributes),
      md5OfMessageSystemAttributes: md5OfAttributes(m.systemAttributes),
    };
  }

  private lookupReceipt(queue: QueueRecord, handle: unknown): ReceiptLookup {
    const receipt = decodeReceipt(handle);
    if (!receipt || receipt.queueId !== queue.id) throw invalidReceipt(handle);
    const row = this.stmt.messageBySeq.get(receipt.seq, queue.id);
    if (!row) return { state: 'gone' };
    return { state: row.receipt === receipt.nonce ? 'current' : 'stale', row };
  }
}

function parseJson(text: string | null): MessageAttributes | undefined {
  return text === null ? undefined : (JSON.parse(text) as MessageAttributes);
}

function withoutEmpty(attrs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attrs)) if (v !== '') out[k] = v;
  return out;
}

/** The queue name in a queue URL `http(s)://host/000000000000/{name}`; InvalidAddress if not one. */
export function queueNameFromUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SqsError('InvalidAddress', `The address ${url} is not valid for this endpoint.`);
  }
  const segments = parsed.pathname.split('/').filter((s) => s !== '');
  if (segments.length !== 2) {
    throw new SqsError('InvalidAddress', `The address ${url} is not valid for this endpoint.`);
  }
  if (segments[0] !== ACCOUNT_ID) throw new SqsError('QueueDoesNotExist');
  try {
    return decodeURIComponent(segments[1]!);
  } catch {
    throw new SqsError('QueueDoesNotExist');
  }
}
