/** One object-created record from an S3 event notification, with the key decoded. */
export interface ObjectCreatedRecord {
  eventName: string;
  bucket: string;
  key: string;
  size: number;
  eTag: string;
  sequencer: string;
}

export type ParsedMessage =
  | { kind: 'test' }
  | { kind: 'records'; records: ObjectCreatedRecord[] }
  | { kind: 'unknown'; reason: string };

/**
 * Decodes a key as S3 encodes it in notifications: form-URL-encoded, so `+` is a space and `%2B` a
 * plus. MinIO also encodes `/` as `%2F`, which decodes the same way.
 */
export function decodeEventKey(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where notifications come from: AWS and MinIO URL-encode object keys, Ceph RGW sends them raw. */
const EVENT_SOURCES: Readonly<Record<string, { keysEncoded: boolean }>> = {
  'aws:s3': { keysEncoded: true },
  'minio:s3': { keysEncoded: true },
  'ceph:s3': { keysEncoded: false },
};

/**
 * Parses a queue message body that should be an S3 event notification exactly as AWS, MinIO or Ceph
 * RGW sends it (RGW: `eventSource` `ceph:s3`, keys not URL-encoded, empty region, eventVersion 2.2).
 * Anything else is `unknown`: the worker logs it and leaves it for the dead-letter queue.
 */
export function parseS3EventMessage(body: string): ParsedMessage {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { kind: 'unknown', reason: 'the message body is not JSON' };
  }
  if (!isObject(doc)) return { kind: 'unknown', reason: 'the message body is not a JSON object' };
  if (doc.Event === 's3:TestEvent') return { kind: 'test' };
  if (!Array.isArray(doc.Records)) return { kind: 'unknown', reason: 'no Records array' };
  const records: ObjectCreatedRecord[] = [];
  for (const [i, r] of doc.Records.entries()) {
    const at = `Records[${i}]`;
    if (!isObject(r)) return { kind: 'unknown', reason: `${at} is not an object` };
    if (typeof r.eventVersion !== 'string' || !/^2\.\d+$/.test(r.eventVersion)) {
      return { kind: 'unknown', reason: `${at}.eventVersion ${JSON.stringify(r.eventVersion)} is not 2.x` };
    }
    const source = typeof r.eventSource === 'string' ? EVENT_SOURCES[r.eventSource] : undefined;
    if (!source) {
      return {
        kind: 'unknown',
        reason: `${at}.eventSource ${JSON.stringify(r.eventSource)} is not aws:s3, minio:s3 or ceph:s3`,
      };
    }
    const eventName = typeof r.eventName === 'string' ? r.eventName.replace(/^s3:/, '') : '';
    if (!eventName.startsWith('ObjectCreated:')) continue;
    const s3 = isObject(r.s3) ? r.s3 : undefined;
    const bucket = s3 && isObject(s3.bucket) ? s3.bucket.name : undefined;
    const object = s3 && isObject(s3.object) ? s3.object : undefined;
    if (typeof bucket !== 'string' || !object || typeof object.key !== 'string') {
      return { kind: 'unknown', reason: `${at}.s3 lacks bucket.name or object.key` };
    }
    let key = object.key;
    if (source.keysEncoded) {
      try {
        key = decodeEventKey(object.key);
      } catch {
        return { kind: 'unknown', reason: `${at}.s3.object.key is not valid URL encoding` };
      }
    }
    records.push({
      eventName,
      bucket,
      key,
      size: typeof object.size === 'number' ? object.size : Number.NaN,
      eTag: typeof object.eTag === 'string' ? object.eTag.replace(/"/g, '') : '',
      sequencer: typeof object.sequencer === 'string' ? object.sequencer : '',
    });
  }
  return { kind: 'records', records };
}

/** The image an original's key belongs to, or undefined for keys outside `uploads/{uuid}`. */
export function imageIdFromKey(key: string): string | undefined {
  const m = /^uploads\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/.exec(key);
  return m?.[1];
}

/** An S3 event 2.1 message for an object, as AWS would send it (for the complete-fallback and sweeps). */
export function syntheticObjectCreated(opts: {
  region: string;
  bucket: string;
  key: string;
  size: number;
  eTag: string;
}) {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: opts.region,
        eventTime: new Date().toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'darkroom' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: {},
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'darkroom-reconcile',
          bucket: { name: opts.bucket, arn: `arn:aws:s3:::${opts.bucket}` },
          object: {
            key: encodeURIComponent(opts.key).replace(/%2F/g, '/').replace(/%20/g, '+'),
            size: opts.size,
            eTag: opts.eTag,
            sequencer: Date.now().toString(16).toUpperCase().padStart(16, '0'),
          },
        },
      },
    ],
  });
}
