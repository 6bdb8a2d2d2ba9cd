import { describe, expect, it } from 'vitest';
import { encodeEventKey } from '../storage/s3-server/notifications.ts';
import { decodeEventKey, imageIdFromKey, parseS3EventMessage, syntheticObjectCreated } from './s3-events.ts';

const record = (key: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: 'b' }, object: { key, size: 5, eTag: 'abc', sequencer: '01' } },
        ...extra,
      },
    ],
  });

describe('S3 event messages', () => {
  it('decodes keys as AWS encodes them (+ for space, %2B for plus) and as MinIO does (%2F)', () => {
    expect(decodeEventKey('uploads/my+photo%2B1+%C3%A9.jpg')).toBe('uploads/my photo+1 é.jpg');
    expect(decodeEventKey('uploads%2Fabc')).toBe('uploads/abc');
    for (const key of ['a b+c/é ü (1).jpg', 'uploads/x%y', "it's~*!"])
      expect(decodeEventKey(encodeEventKey(key))).toBe(key);
  });

  it('parses records of any 2.x version and skips non-created events', () => {
    const parsed = parseS3EventMessage(record('uploads/a+b', { eventVersion: '2.2' }));
    expect(parsed).toEqual({
      kind: 'records',
      records: [
        {
          eventName: 'ObjectCreated:Put',
          bucket: 'b',
          key: 'uploads/a b',
          size: 5,
          eTag: 'abc',
          sequencer: '01',
        },
      ],
    });
    expect(parseS3EventMessage(record('k', { eventName: 'ObjectRemoved:Delete' }))).toEqual({
      kind: 'records',
      records: [],
    });
  });

  it('recognises test events and refuses everything else', () => {
    expect(parseS3EventMessage(JSON.stringify({ Service: 'Amazon S3', Event: 's3:TestEvent' }))).toEqual({
      kind: 'test',
    });
    for (const body of [
      'not json',
      '[]',
      '{}',
      record('k', { eventVersion: '1.0' }),
      record('k', { eventSource: 'aws:sns' }),
      record('%E0%A4%A'),
    ]) {
      expect(parseS3EventMessage(body).kind).toBe('unknown');
    }
  });

  it('round-trips synthetic events and maps keys to image ids', () => {
    const id = '0b6f3c1e-8f5a-4c1b-9d2e-3a4b5c6d7e8f';
    const parsed = parseS3EventMessage(
      syntheticObjectCreated({ region: 'us-east-1', bucket: 'b', key: `uploads/${id}`, size: 9, eTag: 'e' }),
    );
    expect(parsed.kind === 'records' && parsed.records[0]?.key).toBe(`uploads/${id}`);
    expect(imageIdFromKey(`uploads/${id}`)).toBe(id);
    expect(imageIdFromKey(`uploads/${id}/x`)).toBeUndefined();
    expect(imageIdFromKey('variants/x')).toBeUndefined();
  });
});
