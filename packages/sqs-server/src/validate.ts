import { invalidParameter, missingParameter, SqsError } from './errors.ts';
import type { MessageAttributes, MessageAttributeValue } from './md5.ts';

/** The account id every embedded queue belongs to (as LocalStack and ElasticMQ use). */
export const ACCOUNT_ID = '000000000000';

/** SQS's current limit for one message and for a whole batch (1 MiB). */
export const MAX_MESSAGE_BYTES = 1_048_576;
export const MAX_BATCH_ENTRIES = 10;
export const MAX_VISIBILITY_TIMEOUT = 43_200;
export const MAX_DELAY_SECONDS = 900;
export const MAX_WAIT_TIME_SECONDS = 20;

/** Defaults of a new standard queue, as GetQueueAttributes reports them (strings, like SQS). */
export const DEFAULT_QUEUE_ATTRIBUTES: Readonly<Record<string, string>> = {
  DelaySeconds: '0',
  MaximumMessageSize: String(MAX_MESSAGE_BYTES),
  MessageRetentionPeriod: '345600',
  ReceiveMessageWaitTimeSeconds: '0',
  VisibilityTimeout: '30',
  SqsManagedSseEnabled: 'true',
};

const INTEGER_ATTRIBUTES: Readonly<Record<string, readonly [number, number]>> = {
  DelaySeconds: [0, MAX_DELAY_SECONDS],
  MaximumMessageSize: [1024, MAX_MESSAGE_BYTES],
  MessageRetentionPeriod: [60, 1_209_600],
  ReceiveMessageWaitTimeSeconds: [0, MAX_WAIT_TIME_SECONDS],
  VisibilityTimeout: [0, MAX_VISIBILITY_TIMEOUT],
  KmsDataKeyReusePeriodSeconds: [60, 86_400],
};

/** Stored and returned as given; they have no effect on the embedded server. */
const OPAQUE_ATTRIBUTES = new Set(['Policy', 'RedriveAllowPolicy', 'KmsMasterKeyId']);

/** Attributes GetQueueAttributes computes rather than stores. */
export const COMPUTED_ATTRIBUTES = [
  'QueueArn',
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
  'CreatedTimestamp',
  'LastModifiedTimestamp',
] as const;

export const SETTABLE_ATTRIBUTES = new Set([
  ...Object.keys(INTEGER_ATTRIBUTES),
  ...OPAQUE_ATTRIBUTES,
  'RedrivePolicy',
  'SqsManagedSseEnabled',
]);

export interface RedrivePolicy {
  deadLetterTargetArn: string;
  maxReceiveCount: number;
}

/** Queue names: 1–80 alphanumerics, hyphens and underscores (a `.fifo` suffix would mean FIFO). */
export function checkQueueName(name: unknown): string {
  if (typeof name !== 'string' || name === '') throw missingParameter('QueueName');
  if (name.endsWith('.fifo')) {
    throw new SqsError('UnsupportedOperation', 'FIFO queues are not supported by the embedded SQS server.');
  }
  if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
    throw new SqsError(
      'InvalidParameterValue',
      'Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length',
    );
  }
  return name;
}

export function queueArn(region: string, name: string): string {
  return `arn:aws:sqs:${region}:${ACCOUNT_ID}:${name}`;
}

/** The queue name an ARN of this region and account names, or undefined for any other ARN. */
export function nameFromArn(arn: string, region: string): string | undefined {
  const m = /^arn:aws:sqs:([^:]+):([^:]+):([A-Za-z0-9_-]{1,80})$/.exec(arn);
  return m && m[1] === region && m[2] === ACCOUNT_ID ? m[3] : undefined;
}

/**
 * Validates CreateQueue/SetQueueAttributes attributes and returns them normalised as they will be stored
 * (RedrivePolicy re-serialised; '' for an attribute means "remove", as SQS treats an empty RedrivePolicy).
 * `queueExists` answers whether a dead-letter target named by ARN exists.
 */
export function normaliseQueueAttributes(
  input: Record<string, unknown>,
  region: string,
  queueExists: (name: string) => boolean,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(input)) {
    if (typeof raw !== 'string') {
      throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
    }
    if (name === 'FifoQueue') {
      if (raw === 'true') {
        throw new SqsError(
          'UnsupportedOperation',
          'FIFO queues are not supported by the embedded SQS server.',
        );
      }
      throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
    if (!SETTABLE_ATTRIBUTES.has(name)) {
      throw new SqsError('InvalidAttributeName', `Unknown Attribute ${name}.`);
    }
    const range = INTEGER_ATTRIBUTES[name];
    if (range) {
      const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(n >= range[0] && n <= range[1])) {
        throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
      }
      out[name] = String(n);
    } else if (name === 'SqsManagedSseEnabled') {
      if (raw !== 'true' && raw !== 'false') {
        throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
      }
      out[name] = raw;
    } else if (name === 'RedrivePolicy') {
      out[name] = raw === '' ? '' : JSON.stringify(parseRedrivePolicy(raw, region, queueExists));
    } else {
      if (name !== 'KmsMasterKeyId' && raw !== '') {
        try {
          JSON.parse(raw);
        } catch {
          throw new SqsError('InvalidAttributeValue', `Invalid value for the parameter ${name}.`);
        }
      }
      out[name] = raw;
    }
  }
  return out;
}

function parseRedrivePolicy(
  raw: string,
  region: string,
  queueExists: (name: string) => boolean,
): RedrivePolicy {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidParameter('RedrivePolicy', raw, 'Redrive policy is not a valid JSON map.');
  }
  const { deadLetterTargetArn, maxReceiveCount, ...rest } = parsed as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra !== undefined) {
    throw invalidParameter(
      'RedrivePolicy',
      raw,
      `Only following keys are allowed: deadLetterTargetArn, maxReceiveCount. Found: ${extra}`,
    );
  }
  if (deadLetterTargetArn === undefined || maxReceiveCount === undefined) {
    throw invalidParameter(
      'RedrivePolicy',
      raw,
      'Redrive policy does not contain mandatory attribute: ' +
        (deadLetterTargetArn === undefined ? 'deadLetterTargetArn' : 'maxReceiveCount'),
    );
  }
  const count =
    typeof maxReceiveCount === 'number'
      ? maxReceiveCount
      : typeof maxReceiveCount === 'string' && /^\d+$/.test(maxReceiveCount)
        ? Number(maxReceiveCount)
        : Number.NaN;
  if (!(Number.isInteger(count) && count >= 1 && count <= 1000)) {
    throw invalidParameter(
      'RedrivePolicy',
      raw,
      `Invalid value for maxReceiveCount: ${String(maxReceiveCount)}, valid values are from 1 to 1000 both inclusive.`,
    );
  }
  const target =
    typeof deadLetterTargetArn === 'string' ? nameFromArn(deadLetterTargetArn, region) : undefined;
  if (target === undefined || !queueExists(target)) {
    throw invalidParameter('RedrivePolicy', raw, 'Dead letter target does not exist.');
  }
  return { deadLetterTargetArn: deadLetterTargetArn as string, maxReceiveCount: count };
}

/** An integer parameter in [min, max], or undefined when absent. */
export function optionalInt(
  input: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
  reason = `Must be between ${min} and ${max}, if provided.`,
): number | undefined {
  const v = input[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalidParameter(name, v, reason);
  }
  return v;
}

/** The characters SQS allows in a message (XML 1.0's Char production). */
const INVALID_CHAR = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

function hexCodePoint(text: string, index: number): string {
  return `#x${(text.codePointAt(index) ?? 0).toString(16).toUpperCase()}`;
}

/** Validates a message body's characters (SQS answers InvalidMessageContents). */
export function checkBody(body: unknown): string {
  if (typeof body !== 'string' || body === '') throw missingParameter('MessageBody');
  const bad = INVALID_CHAR.exec(body);
  if (bad) {
    throw new SqsError(
      'InvalidMessageContents',
      `Invalid binary character '${hexCodePoint(body, bad.index)}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF`,
    );
  }
  return body;
}

const ATTRIBUTE_NAME = /^[A-Za-z0-9_.-]{1,256}$/;
const DATA_TYPE = /^(String|Number|Binary)(\.[A-Za-z0-9_.-]*)?$/;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Validates message (user) attributes as SQS does and returns them in their stored form plus the bytes
 * they count towards the message size (name + type + value).
 */
export function checkMessageAttributes(
  input: unknown,
  kind: 'user' | 'system' = 'user',
): { attributes: MessageAttributes | undefined; bytes: number } {
  if (input === undefined || input === null) return { attributes: undefined, bytes: 0 };
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new SqsError('InvalidParameterValue', `Message ${kind} attributes must be a map.`);
  }
  const entries = Object.entries(input as Record<string, unknown>);
  if (entries.length === 0) return { attributes: undefined, bytes: 0 };
  if (entries.length > 10) {
    throw new SqsError(
      'InvalidParameterValue',
      `Number of message attributes [${entries.length}] exceeds the allowed maximum [10].`,
    );
  }
  // Names are the sender's (`__proto__` passes the name rule): an own entry, never the prototype.
  const attributes: MessageAttributes = Object.create(null);
  let bytes = 0;
  for (const [name, value] of entries) {
    if (kind === 'system') {
      if (name !== 'AWSTraceHeader') {
        throw new SqsError('InvalidParameterValue', `Message system attribute name '${name}' is invalid.`);
      }
    } else if (
      !ATTRIBUTE_NAME.test(name) ||
      /^(aws\.|amazon\.)/i.test(name) ||
      name.startsWith('.') ||
      name.endsWith('.') ||
      name.includes('..')
    ) {
      throw new SqsError(
        'InvalidParameterValue',
        `Message (user) attribute name '${name}' is invalid. The attribute name can contain only alphanumeric characters, hyphens, underscores and periods; it cannot start with "AWS." or "Amazon.", start or end with a period, or contain consecutive periods.`,
      );
    }
    const v = (value ?? {}) as Partial<MessageAttributeValue> & Record<string, unknown>;
    const dataType = v.DataType;
    if (typeof dataType !== 'string' || dataType === '') {
      throw new SqsError(
        'InvalidParameterValue',
        `The message ${kind} attribute '${name}' must contain a non-empty message attribute type.`,
      );
    }
    const typeMatch = DATA_TYPE.exec(dataType);
    if (!typeMatch || dataType.length > 256 || (kind === 'system' && dataType !== 'String')) {
      throw new SqsError(
        'InvalidParameterValue',
        `The type of message (${kind}) attribute '${name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String.`,
      );
    }
    const base = typeMatch[1] as 'String' | 'Number' | 'Binary';
    const stored: MessageAttributeValue = { DataType: dataType };
    if (base === 'Binary') {
      const b = v.BinaryValue;
      if (typeof b !== 'string' || b === '' || !BASE64.test(b)) {
        throw new SqsError(
          'InvalidParameterValue',
          `Message (${kind}) attribute '${name}' must contain a non-empty value of type 'Binary'.`,
        );
      }
      stored.BinaryValue = b;
      bytes += Buffer.from(b, 'base64').length;
    } else {
      const s = v.StringValue;
      if (typeof s !== 'string' || s === '') {
        throw new SqsError(
          'InvalidParameterValue',
          `Message (${kind}) attribute '${name}' must contain a non-empty value of type '${base}'.`,
        );
      }
      if (base === 'Number' && !NUMBER.test(s)) {
        throw new SqsError(
          'InvalidParameterValue',
          `Can't cast the value of message (${kind}) attribute '${name}' to a number.`,
        );
      }
      if (INVALID_CHAR.test(s)) {
        throw new SqsError(
          'InvalidParameterValue',
          `Message (${kind}) attribute '${name}' contains invalid characters.`,
        );
      }
      stored.StringValue = s;
      bytes += Buffer.byteLength(s);
    }
    bytes += Buffer.byteLength(name) + Buffer.byteLength(dataType);
    attributes[name] = stored;
  }
  return { attributes, bytes };
}

/** Batch entry ids: 1–80 alphanumerics, hyphens and underscores, distinct within the request. */
export function checkBatchEntries<T extends { Id?: unknown }>(entries: unknown, noun: string): T[] {
  if (entries === undefined || entries === null || (Array.isArray(entries) && entries.length === 0)) {
    throw new SqsError('EmptyBatchRequest', `There should be at least one ${noun} in the request.`);
  }
  if (!Array.isArray(entries)) throw new SqsError('InvalidParameterValue', 'Entries must be a list.');
  if (entries.length > MAX_BATCH_ENTRIES) {
    throw new SqsError(
      'TooManyEntriesInBatchRequest',
      `Maximum number of entries per request are ${MAX_BATCH_ENTRIES}. You have sent ${entries.length}.`,
    );
  }
  const seen = new Set<string>();
  for (const entry of entries as T[]) {
    const id = entry?.Id;
    if (typeof id !== 'string' || !/^[A-Za-z0-9_-]{1,80}$/.test(id)) {
      throw new SqsError('InvalidBatchEntryId');
    }
    if (seen.has(id)) throw new SqsError('BatchEntryIdsNotDistinct', `Id ${id} repeated.`);
    seen.add(id);
  }
  return entries as T[];
}
