import { describe, expect, it } from 'vitest';
import { createHotObjects, etagMatches, type HotObject } from './hot-objects.ts';

const object = (bytes: number): HotObject => ({
  body: Buffer.alloc(bytes),
  etag: '"e"',
  lastModifiedText: new Date(0).toUTCString(),
  contentType: 'image/webp',
});

describe('HotObjects', () => {
  it('stays within its byte bound, evicting the least recently used', () => {
    const hot = createHotObjects(300, 200);
    hot.set('a', object(100));
    hot.set('b', object(100));
    hot.set('c', object(100));
    expect(hot.get('a')).toBeDefined(); // now the most recent
    hot.set('d', object(100));
    expect(hot.calculatedSize).toBe(300);
    expect(hot.get('b')).toBeUndefined();
    expect(['a', 'c', 'd'].every((k) => hot.get(k))).toBe(true);
  });

  it('never holds an object above the per-object limit, and replaces a key in place', () => {
    const hot = createHotObjects(1000, 200);
    hot.set('big', object(201));
    expect(hot.get('big')).toBeUndefined();
    hot.set('x', object(150));
    hot.set('x', object(50));
    expect(hot.calculatedSize).toBe(50);
  });
});

describe('etagMatches', () => {
  it.each([
    ['"abc"', true],
    ['W/"abc"', true],
    ['"x", "abc"', true],
    ['*', true],
    ['"abd"', false],
    ['abc', false],
  ])('%s against "abc" → %s', (header, expected) => {
    expect(etagMatches(header, '"abc"')).toBe(expected);
  });
});
