import fs from 'node:fs';
import path from 'node:path';
import { encodeEventKey } from '@darkroom/s3-server';
import { describe, expect, it } from 'vitest';
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

// Bodies exactly as a real Ceph RGW 16.2 pushed them over AMQP (test/fixtures/rgw-events/capture.ts).
const rgwFixture = (name: string) =>
  fs.readFileSync(path.join(import.meta.dirname, '../../test/fixtures/rgw-events', `${name}.json`), 'utf8');

describe('Ceph RGW notifications (captured from a real gateway)', () => {
  it.each([
    ['put', 'ObjectCreated:Put', 'uploads/0b1d6f4e-9c1a-4f5e-8d2b-3a4c5d6e7f80'],
    ['post', 'ObjectCreated:Post', 'uploads/1b1d6f4e-9c1a-4f5e-8d2b-3a4c5d6e7f80'],
    [
      'completemultipartupload',
      'ObjectCreated:CompleteMultipartUpload',
      'uploads/2b1d6f4e-9c1a-4f5e-8d2b-3a4c5d6e7f80',
    ],
    ['copy', 'ObjectCreated:Copy', 'uploads/3b1d6f4e-9c1a-4f5e-8d2b-3a4c5d6e7f80'],
  ])('%s: eventSource ceph:s3, eventVersion 2.2, empty region', (name, eventName, key) => {
    const body = rgwFixture(name);
    const raw = JSON.parse(body) as {
      Records: { eventSource: string; eventVersion: string; awsRegion: string }[];
    };
    expect(raw.Records[0]).toMatchObject({ eventSource: 'ceph:s3', eventVersion: '2.2', awsRegion: '' });
    const parsed = parseS3EventMessage(body);
    expect(parsed.kind).toBe('records');
    const [record] = parsed.kind === 'records' ? parsed.records : [];
    expect(record).toMatchObject({ eventName, bucket: 'capture-bucket', key });
    expect(record!.eTag).toMatch(/^[0-9a-f]{32}(-\d+)?$/);
    expect(imageIdFromKey(record!.key)).toBe(key.slice('uploads/'.length));
  });

  it('takes the key as RGW sends it: raw, not URL-decoded', () => {
    const parsed = parseS3EventMessage(rgwFixture('put-raw-key'));
    // Decoding it as AWS keys are decoded would make "photo 1é x%.jpg" of it, or fail on the lone %.
    expect(parsed.kind === 'records' && parsed.records[0]?.key).toBe('uploads/photo 1é+x%.jpg');
  });

  it('the multipart event carries the multipart ETag', () => {
    const parsed = parseS3EventMessage(rgwFixture('completemultipartupload'));
    expect(parsed.kind === 'records' && parsed.records[0]?.eTag).toMatch(/-2$/);
  });
});
