/**
 * Object tags as S3 takes them: the `x-amz-tagging` header and the POST `tagging` field (a URL query
 * string or a `<Tagging>` document), the `?tagging` XML body, and S3's limits.
 */
import { S3Error } from './errors.ts';
import { asArray, parseS3Xml, s3Xml } from './xml.ts';

/** Tags of one object, in the order they were given. */
export type TagSet = Record<string, string>;

const MAX_TAGS = 10;
const MAX_KEY_CHARS = 128;
const MAX_VALUE_CHARS = 256;
// S3's allowed characters: letters, digits, spaces and + - = . _ : / @ (Unicode letters included).
const ALLOWED = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** Checks pairs against S3's limits and builds the tag set; InvalidTag otherwise. */
export function tagSetFrom(pairs: readonly (readonly [string, string])[]): TagSet {
  if (pairs.length > MAX_TAGS) {
    throw new S3Error('InvalidTag', `Object tags cannot be greater than ${MAX_TAGS}.`);
  }
  // Tag keys are the client's: `__proto__` must be a tag like any other, not the object's prototype.
  const tags: TagSet = Object.create(null);
  for (const [key, value] of pairs) {
    if (key.length === 0 || [...key].length > MAX_KEY_CHARS || !ALLOWED.test(key)) {
      throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid', {
        TagKey: key.slice(0, 256),
      });
    }
    if ([...value].length > MAX_VALUE_CHARS || !ALLOWED.test(value)) {
      throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid', {
        TagKey: key,
        TagValue: value.slice(0, 512),
      });
    }
    if (Object.hasOwn(tags, key)) {
      throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key', { TagKey: key });
    }
    tags[key] = value;
  }
  return tags;
}

/** The `x-amz-tagging` header: `k1=v1&k2=v2`, URL-encoded. Undefined when the header is absent. */
export function parseTaggingHeader(value: string | undefined): TagSet | undefined {
  if (value === undefined) return undefined;
  const pairs: [string, string][] = [];
  for (const part of value.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? '' : part.slice(eq + 1);
    try {
      pairs.push([decodeQuery(rawKey), decodeQuery(rawValue)]);
    } catch {
      throw new S3Error(
        'InvalidArgument',
        'The header x-amz-tagging is not a valid URL-encoded query string.',
        {
          ArgumentName: 'x-amz-tagging',
          ArgumentValue: value.slice(0, 256),
        },
      );
    }
  }
  return tagSetFrom(pairs);
}

function decodeQuery(s: string): string {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

/** A `<Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>` document; MalformedXML when it is not one. */
export function parseTaggingXml(text: string): TagSet {
  const doc = parseS3Xml(text, 'Tagging');
  const set = doc.TagSet;
  if (set === undefined) throw new S3Error('MalformedXML', 'A <Tagging> document needs a <TagSet>.');
  if (set !== '' && (typeof set !== 'object' || set === null || Array.isArray(set))) {
    throw new S3Error('MalformedXML', 'A <Tagging> document has exactly one <TagSet>.');
  }
  const raw = set === '' ? [] : asArray((set as Record<string, unknown>).Tag);
  const pairs = raw.map((tag): [string, string] => {
    if (typeof tag !== 'object' || tag === null)
      throw new S3Error('MalformedXML', 'Each <Tag> needs a <Key>.');
    const { Key: key, Value: value } = tag as Record<string, unknown>;
    if (typeof key !== 'string') throw new S3Error('MalformedXML', 'Each <Tag> needs one <Key>.');
    if (value !== undefined && typeof value !== 'string') {
      throw new S3Error('MalformedXML', 'Each <Tag> has at most one <Value>.');
    }
    return [key, value ?? ''];
  });
  return tagSetFrom(pairs);
}

/** The POST form's `tagging` field: S3 takes the XML document (a query string is accepted as well). */
export function parseTaggingField(value: string | undefined): TagSet | undefined {
  if (value === undefined) return undefined;
  return value.trimStart().startsWith('<') ? parseTaggingXml(value) : parseTaggingHeader(value);
}

/** GetObjectTagging's answer. */
export function taggingXml(tags: TagSet): string {
  return s3Xml('Tagging', {
    TagSet: { Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) },
  });
}

/** How many tags an object has, for `x-amz-tagging-count` (absent when none, as S3 does). */
export function tagCountHeader(tags: TagSet): Record<string, string> {
  const n = Object.keys(tags).length;
  return n > 0 ? { 'x-amz-tagging-count': String(n) } : {};
}
