import { createHash } from 'node:crypto';

/** A message attribute as SQS's JSON protocol carries it; BinaryValue is base64. */
export interface MessageAttributeValue {
  DataType: string;
  StringValue?: string;
  BinaryValue?: string;
}

export type MessageAttributes = Record<string, MessageAttributeValue>;

/** Hex MD5 of a message body's UTF-8 bytes (MD5OfMessageBody / MD5OfBody). */
export function md5OfBody(body: string): string {
  return createHash('md5').update(body, 'utf8').digest('hex');
}

function lengthPrefixed(parts: Buffer[], bytes: Buffer): void {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bytes.length);
  parts.push(len, bytes);
}

/**
 * MD5OfMessageAttributes as SQS specifies it: attributes sorted by name; for each, the 4-byte big-endian
 * length and UTF-8 bytes of the name, then of the data type, one transport byte (1 for String and Number,
 * 2 for Binary), then the length-prefixed value (UTF-8 for strings, raw bytes for binary).
 * The same encoding yields MD5OfMessageSystemAttributes. Undefined when there are no attributes.
 */
export function md5OfAttributes(attributes: MessageAttributes | undefined): string | undefined {
  if (!attributes) return undefined;
  const names = Object.keys(attributes).sort();
  if (names.length === 0) return undefined;
  const parts: Buffer[] = [];
  for (const name of names) {
    const attr = attributes[name]!;
    lengthPrefixed(parts, Buffer.from(name, 'utf8'));
    lengthPrefixed(parts, Buffer.from(attr.DataType, 'utf8'));
    if (attr.DataType.startsWith('Binary')) {
      parts.push(Buffer.from([2]));
      lengthPrefixed(parts, Buffer.from(attr.BinaryValue ?? '', 'base64'));
    } else {
      parts.push(Buffer.from([1]));
      lengthPrefixed(parts, Buffer.from(attr.StringValue ?? '', 'utf8'));
    }
  }
  return createHash('md5').update(Buffer.concat(parts)).digest('hex');
}
