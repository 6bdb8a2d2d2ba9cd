import { invalidParameter, missingParameter, SqsError } from './errors.ts';
import type { MessageAttributes } from './md5.ts';
import { md5OfAttributes } from './md5.ts';
import {
  queueNameFromUrl,
  type ReceivedMessage,
  type SendMessageInput,
  type SendResult,
  type SqsStore,
} from './store/queue-store.ts';
import {
  ACCOUNT_ID,
  COMPUTED_ATTRIBUTES,
  checkBatchEntries,
  checkMessageAttributes,
  checkQueueName,
  MAX_DELAY_SECONDS,
  MAX_MESSAGE_BYTES,
  MAX_VISIBILITY_TIMEOUT,
  MAX_WAIT_TIME_SECONDS,
  optionalInt,
  SETTABLE_ATTRIBUTES,
} from './validate.ts';

/** What an action needs besides its input. */
export interface ActionContext {
  store: SqsStore;
  /** `http://host:port` the client addressed, for the queue URLs the server hands out. */
  baseUrl: string;
  /** The signer's access key id (SenderId of the messages it sends). */
  accessKeyId: string;
  /** Aborted when the client goes away (ends a long poll without receiving). */
  signal: AbortSignal;
}

export type Input = Record<string, unknown>;
export type Output = Record<string, unknown>;
type Handler = (ctx: ActionContext, input: Input) => Output | Promise<Output>;

const SYSTEM_ATTRIBUTE_NAMES = new Set([
  'All',
  'SenderId',
  'SentTimestamp',
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'SequenceNumber',
  'MessageDeduplicationId',
  'MessageGroupId',
  'AWSTraceHeader',
  'DeadLetterQueueSourceArn',
]);

/** Operations of the SQS API this server answers with UnsupportedOperation rather than InvalidAction. */
const UNSUPPORTED = [
  'AddPermission',
  'RemovePermission',
  'TagQueue',
  'UntagQueue',
  'ListQueueTags',
  'ListDeadLetterSourceQueues',
  'StartMessageMoveTask',
  'CancelMessageMoveTask',
  'ListMessageMoveTasks',
];

function queueUrl(ctx: ActionContext, name: string): string {
  return `${ctx.baseUrl}/${ACCOUNT_ID}/${encodeURIComponent(name)}`;
}

function requiredString(input: Input, name: string): string {
  const v = input[name];
  if (v === undefined || v === null || v === '') throw missingParameter(name);
  if (typeof v !== 'string') throw invalidParameter(name, v, `${name} must be a string.`);
  return v;
}

function optionalString(input: Input, name: string): string | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalidParameter(name, v, `${name} must be a string.`);
  return v;
}

function stringList(input: Input, name: string): string[] {
  const v = input[name];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    throw invalidParameter(name, v, `${name} must be a list of strings.`);
  }
  return v as string[];
}

function stringMap(input: Input, name: string): Record<string, unknown> {
  const v = input[name];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalidParameter(name, v, `${name} must be a map.`);
  return v as Record<string, unknown>;
}

/** The queue a request names through QueueUrl. */
function queueName(input: Input): string {
  return queueNameFromUrl(requiredString(input, 'QueueUrl'));
}

// ── queues ──────────────────────────────────────────────────────────────────────────────────────────

const createQueue: Handler = (ctx, input) => {
  const name = checkQueueName(input.QueueName);
  const tags = stringMap(input, 'tags') as Record<string, string>;
  const queue = ctx.store.createQueue(name, stringMap(input, 'Attributes'), tags);
  return { QueueUrl: queueUrl(ctx, queue.name) };
};

const getQueueUrl: Handler = (ctx, input) => {
  const name = requiredString(input, 'QueueName');
  const owner = optionalString(input, 'QueueOwnerAWSAccountId');
  if (owner !== undefined && owner !== ACCOUNT_ID) throw new SqsError('QueueDoesNotExist');
  const queue = ctx.store.findQueue(name);
  if (!queue) throw new SqsError('QueueDoesNotExist');
  return { QueueUrl: queueUrl(ctx, queue.name) };
};

interface PageToken {
  prefix: string;
  after: string;
}

const listQueues: Handler = (ctx, input) => {
  const prefix = optionalString(input, 'QueueNamePrefix') ?? '';
  const maxResults = optionalInt(
    input,
    'MaxResults',
    1,
    1000,
    'MaxResults must be an integer between 1 and 1000.',
  );
  const token = optionalString(input, 'NextToken');
  let after = '';
  if (token !== undefined) {
    let parsed: PageToken | undefined;
    try {
      parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as PageToken;
    } catch {
      parsed = undefined;
    }
    if (!parsed || typeof parsed.after !== 'string' || parsed.prefix !== prefix) {
      throw new SqsError('InvalidParameterValue', 'Invalid NextToken value.');
    }
    after = parsed.after;
  }
  const limit = maxResults ?? 1000;
  const names = ctx.store.listQueues(prefix, after, limit + 1);
  const page = names.slice(0, limit);
  const out: Output = {};
  if (page.length > 0) out.QueueUrls = page.map((n) => queueUrl(ctx, n));
  // Without MaxResults SQS returns at most 1000 URLs and no token.
  if (maxResults !== undefined && names.length > limit) {
    const next: PageToken = { prefix, after: page[page.length - 1]! };
    out.NextToken = Buffer.from(JSON.stringify(next)).toString('base64url');
  }
  return out;
};

const deleteQueue: Handler = (ctx, input) => {
  ctx.store.deleteQueue(queueName(input));
  return {};
};

const getQueueAttributes: Handler = (ctx, input) => {
  const queue = ctx.store.getQueue(queueName(input));
  const requested = stringList(input, 'AttributeNames');
  for (const name of requested) {
    if (
      name !== 'All' &&
      !SETTABLE_ATTRIBUTES.has(name) &&
      !(COMPUTED_ATTRIBUTES as readonly string[]).includes(name)
    ) {
      throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
  }
  if (requested.length === 0) return {};
  const all = requested.includes('All');
  const wanted = (name: string) => all || requested.includes(name);
  const attrs: Record<string, string> = {};
  const counts = ctx.store.counts(queue);
  const computed: Record<(typeof COMPUTED_ATTRIBUTES)[number], string> = {
    QueueArn: queue.arn,
    ApproximateNumberOfMessages: String(counts.visible),
    ApproximateNumberOfMessagesNotVisible: String(counts.notVisible),
    ApproximateNumberOfMessagesDelayed: String(counts.delayed),
    CreatedTimestamp: String(Math.floor(queue.createdAt / 1000)),
    LastModifiedTimestamp: String(Math.floor(queue.modifiedAt / 1000)),
  };
  for (const [name, value] of Object.entries(computed)) if (wanted(name)) attrs[name] = value;
  for (const [name, value] of Object.entries(queue.attributes)) if (wanted(name)) attrs[name] = value;
  return Object.keys(attrs).length > 0 ? { Attributes: attrs } : {};
};

const setQueueAttributes: Handler = (ctx, input) => {
  const attributes = input.Attributes;
  if (attributes === undefined || attributes === null) throw missingParameter('Attributes');
  ctx.store.setQueueAttributes(queueName(input), stringMap(input, 'Attributes'));
  return {};
};

const purgeQueue: Handler = (ctx, input) => {
  ctx.store.purgeQueue(queueName(input));
  return {};
};

// ── sending ─────────────────────────────────────────────────────────────────────────────────────────

function sendInput(ctx: ActionContext, input: Input): SendMessageInput {
  if (optionalString(input, 'MessageDeduplicationId') !== undefined) {
    throw new SqsError(
      'InvalidParameterValue',
      'The request include parameter that is not valid for this queue type. Reason: MessageDeduplicationId is used only for FIFO queues.',
    );
  }
  const body = input.MessageBody;
  if (body !== undefined && body !== null && typeof body !== 'string') {
    throw invalidParameter('MessageBody', body, 'MessageBody must be a string.');
  }
  return {
    body: body as string,
    delaySeconds: optionalInt(
      input,
      'DelaySeconds',
      0,
      MAX_DELAY_SECONDS,
      `DelaySeconds must be >= 0 and <= ${MAX_DELAY_SECONDS}.`,
    ),
    messageAttributes: input.MessageAttributes,
    messageSystemAttributes: input.MessageSystemAttributes,
    messageGroupId: optionalString(input, 'MessageGroupId'),
    senderId: ctx.accessKeyId,
  };
}

function sendOutput(r: SendResult): Output {
  const out: Output = { MessageId: r.messageId, MD5OfMessageBody: r.md5OfMessageBody };
  if (r.md5OfMessageAttributes) out.MD5OfMessageAttributes = r.md5OfMessageAttributes;
  if (r.md5OfMessageSystemAttributes) out.MD5OfMessageSystemAttributes = r.md5OfMessageSystemAttributes;
  return out;
}

const sendMessage: Handler = (ctx, input) => {
  const name = queueName(input);
  ctx.store.getQueue(name);
  return sendOutput(ctx.store.sendMessage(name, sendInput(ctx, input)));
};

/** The bytes an entry counts towards the batch limit; lenient, since entries are validated later. */
function entryBytes(entry: Input): number {
  let bytes = typeof entry.MessageBody === 'string' ? Buffer.byteLength(entry.MessageBody) : 0;
  try {
    bytes += checkMessageAttributes(entry.MessageAttributes).bytes;
  } catch {
    // Counted as zero; the entry fails on its own.
  }
  return bytes;
}

function failed(id: string, err: unknown): Output {
  if (!(err instanceof SqsError)) throw err;
  return { Id: id, SenderFault: err.senderFault, Code: err.entryCode, Message: err.message };
}

const sendMessageBatch: Handler = (ctx, input) => {
  const name = queueName(input);
  ctx.store.getQueue(name);
  const entries = checkBatchEntries<Input & { Id: string }>(input.Entries, 'SendMessageBatchRequestEntry');
  const total = entries.reduce((sum, e) => sum + entryBytes(e), 0);
  if (total > MAX_MESSAGE_BYTES) {
    throw new SqsError(
      'BatchRequestTooLong',
      `Batch requests cannot be longer than ${MAX_MESSAGE_BYTES} bytes. You have sent ${total} bytes.`,
    );
  }
  const prepared = entries.map((e): SendMessageInput | SqsError => {
    try {
      return sendInput(ctx, e);
    } catch (err) {
      if (err instanceof SqsError) return err;
      throw err;
    }
  });
  const valid = prepared.filter((p): p is SendMessageInput => !(p instanceof SqsError));
  const results = ctx.store.sendMessages(name, valid);
  const successful: Output[] = [];
  const failures: Output[] = [];
  let next = 0;
  entries.forEach((entry, i) => {
    const p = prepared[i]!;
    const r = p instanceof SqsError ? p : results[next++]!;
    if (r instanceof SqsError) failures.push(failed(entry.Id, r));
    else successful.push({ Id: entry.Id, ...sendOutput(r) });
  });
  return { Successful: successful, Failed: failures };
};

// ── receiving ───────────────────────────────────────────────────────────────────────────────────────

function messageAttributeFilter(names: string[]): (name: string) => boolean {
  if (names.some((n) => n === 'All' || n === '.*')) return () => true;
  const exact = new Set(names.filter((n) => !n.endsWith('.*')));
  const prefixes = names.filter((n) => n.endsWith('.*')).map((n) => n.slice(0, -1));
  return (name) => exact.has(name) || prefixes.some((p) => name.startsWith(p));
}

function renderMessage(m: ReceivedMessage, system: Set<string>, userFilter: (n: string) => boolean): Output {
  const out: Output = {
    MessageId: m.messageId,
    ReceiptHandle: m.receiptHandle,
    MD5OfBody: m.md5OfBody,
    Body: m.body,
  };
  const all = system.has('All');
  const want = (n: string) => all || system.has(n);
  const attrs: Record<string, string> = {};
  if (want('SenderId')) attrs.SenderId = m.senderId;
  if (want('SentTimestamp')) attrs.SentTimestamp = String(m.sentTimestamp);
  if (want('ApproximateReceiveCount')) attrs.ApproximateReceiveCount = String(m.receiveCount);
  if (want('ApproximateFirstReceiveTimestamp')) {
    attrs.ApproximateFirstReceiveTimestamp = String(m.firstReceiveTimestamp);
  }
  const trace = m.systemAttributes?.AWSTraceHeader?.StringValue;
  if (want('AWSTraceHeader') && trace !== undefined) attrs.AWSTraceHeader = trace;
  if (want('MessageGroupId') && m.messageGroupId !== undefined) attrs.MessageGroupId = m.messageGroupId;
  if (want('DeadLetterQueueSourceArn') && m.deadLetterQueueSourceArn !== undefined) {
    attrs.DeadLetterQueueSourceArn = m.deadLetterQueueSourceArn;
  }
  if (Object.keys(attrs).length > 0) out.Attributes = attrs;
  if (m.messageAttributes) {
    const picked: MessageAttributes = Object.create(null);
    for (const [name, value] of Object.entries(m.messageAttributes))
      if (userFilter(name)) picked[name] = value;
    const md5 = md5OfAttributes(picked);
    if (md5) {
      out.MessageAttributes = picked;
      out.MD5OfMessageAttributes = md5;
    }
  }
  return out;
}

const receiveMessage: Handler = async (ctx, input) => {
  const name = queueName(input);
  const queue = ctx.store.getQueue(name);
  const maxMessages =
    optionalInt(input, 'MaxNumberOfMessages', 1, 10, 'Must be between 1 and 10, if provided.') ?? 1;
  const visibilityTimeout = optionalInt(
    input,
    'VisibilityTimeout',
    0,
    MAX_VISIBILITY_TIMEOUT,
    `Must be >= 0 and <= ${MAX_VISIBILITY_TIMEOUT}, if provided.`,
  );
  const wait =
    optionalInt(
      input,
      'WaitTimeSeconds',
      0,
      MAX_WAIT_TIME_SECONDS,
      `Must be >= 0 and <= ${MAX_WAIT_TIME_SECONDS}, if provided.`,
    ) ?? Number(queue.attributes.ReceiveMessageWaitTimeSeconds);
  const system = new Set([
    ...stringList(input, 'AttributeNames'),
    ...stringList(input, 'MessageSystemAttributeNames'),
  ]);
  for (const n of system) {
    if (!SYSTEM_ATTRIBUTE_NAMES.has(n)) throw new SqsError('InvalidAttributeName', `Unknown Attribute ${n}.`);
  }
  const userFilter = messageAttributeFilter(stringList(input, 'MessageAttributeNames'));
  const deadline = Date.now() + wait * 1000;
  for (;;) {
    const messages = ctx.store.receiveMessages(name, { maxMessages, visibilityTimeout });
    if (messages.length > 0) return { Messages: messages.map((m) => renderMessage(m, system, userFilter)) };
    if (Date.now() >= deadline || ctx.store.isClosing || ctx.signal.aborted) return {};
    await ctx.store.waitForMessages(queue, deadline, ctx.signal);
    if (ctx.store.isClosing || ctx.signal.aborted) return {};
  }
};

// ── deleting and visibility ─────────────────────────────────────────────────────────────────────────

const deleteMessage: Handler = (ctx, input) => {
  const name = queueName(input);
  ctx.store.deleteMessage(name, requiredString(input, 'ReceiptHandle'));
  return {};
};

const deleteMessageBatch: Handler = (ctx, input) => {
  const name = queueName(input);
  ctx.store.getQueue(name);
  const entries = checkBatchEntries<Input & { Id: string }>(input.Entries, 'DeleteMessageBatchRequestEntry');
  const successful: Output[] = [];
  const failures: Output[] = [];
  for (const e of entries) {
    try {
      ctx.store.deleteMessage(name, requiredString(e, 'ReceiptHandle'));
      successful.push({ Id: e.Id });
    } catch (err) {
      failures.push(failed(e.Id, err));
    }
  }
  return { Successful: successful, Failed: failures };
};

function visibilityTimeoutOf(input: Input): number {
  const v = optionalInt(
    input,
    'VisibilityTimeout',
    0,
    MAX_VISIBILITY_TIMEOUT,
    `Must be >= 0 and <= ${MAX_VISIBILITY_TIMEOUT}, if provided.`,
  );
  if (v === undefined) throw missingParameter('VisibilityTimeout');
  return v;
}

const changeMessageVisibility: Handler = (ctx, input) => {
  const name = queueName(input);
  const handle = requiredString(input, 'ReceiptHandle');
  ctx.store.changeVisibility(name, handle, visibilityTimeoutOf(input));
  return {};
};

const changeMessageVisibilityBatch: Handler = (ctx, input) => {
  const name = queueName(input);
  ctx.store.getQueue(name);
  const entries = checkBatchEntries<Input & { Id: string }>(
    input.Entries,
    'ChangeMessageVisibilityBatchRequestEntry',
  );
  const successful: Output[] = [];
  const failures: Output[] = [];
  for (const e of entries) {
    try {
      ctx.store.changeVisibility(name, requiredString(e, 'ReceiptHandle'), visibilityTimeoutOf(e));
      successful.push({ Id: e.Id });
    } catch (err) {
      failures.push(failed(e.Id, err));
    }
  }
  return { Successful: successful, Failed: failures };
};

const unsupported: Handler = () => {
  throw new SqsError('UnsupportedOperation', 'This operation is not supported by the embedded SQS server.');
};

export const ACTIONS: Readonly<Record<string, Handler>> = {
  CreateQueue: createQueue,
  GetQueueUrl: getQueueUrl,
  ListQueues: listQueues,
  DeleteQueue: deleteQueue,
  GetQueueAttributes: getQueueAttributes,
  SetQueueAttributes: setQueueAttributes,
  PurgeQueue: purgeQueue,
  SendMessage: sendMessage,
  SendMessageBatch: sendMessageBatch,
  ReceiveMessage: receiveMessage,
  DeleteMessage: deleteMessage,
  DeleteMessageBatch: deleteMessageBatch,
  ChangeMessageVisibility: changeMessageVisibility,
  ChangeMessageVisibilityBatch: changeMessageVisibilityBatch,
  ...Object.fromEntries(UNSUPPORTED.map((name) => [name, unsupported])),
};
