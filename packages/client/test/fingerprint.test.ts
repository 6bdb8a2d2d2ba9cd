import { describe, expect, it } from 'vitest';
import { fingerprint, sameFile } from '../src/fingerprint.ts';

function bytes(size: number, seed = 1): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  let x = seed;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('fingerprint', () => {
  it('recognises the same file picked again, and tells apart files that differ at either end', async () => {
    const data = bytes(300_000);
    const a = await fingerprint(new File([data], 'p.jpg', { lastModified: 5 }));
    const again = await fingerprint(new File([data.slice()], 'p.jpg', { lastModified: 5 }));
    expect(a).toEqual(again);
    expect(a).toMatchObject({ name: 'p.jpg', size: 300_000, lastModified: 5 });
    expect(a.edgesHash).toMatch(/^[0-9a-f]{64}$/);
    expect(sameFile(a, again)).toBe(true);

    const head = data.slice();
    head[10] = head[10]! ^ 1;
    const tail = data.slice();
    tail[tail.length - 10] = tail[tail.length - 10]! ^ 1;
    expect(sameFile(a, await fingerprint(new File([head], 'p.jpg', { lastModified: 5 })))).toBe(false);
    expect(sameFile(a, await fingerprint(new File([tail], 'p.jpg', { lastModified: 5 })))).toBe(false);
    // A byte in the middle is not read: that is the trade-off for not hashing gigabytes.
    const middle = data.slice();
    middle[150_000] = middle[150_000]! ^ 1;
    expect(sameFile(a, await fingerprint(new File([middle], 'p.jpg', { lastModified: 5 })))).toBe(true);
    // A different modification time is a different file; an unknown one (0) is not held against it.
    expect(sameFile(a, await fingerprint(new File([data], 'p.jpg', { lastModified: 6 })))).toBe(false);
    expect(sameFile(a, { ...a, lastModified: 0 })).toBe(true);
  });

  it('handles files smaller than the two 64 KiB windows', async () => {
    const small = await fingerprint(new Blob([bytes(100)]), 'tiny.png');
    expect(small).toMatchObject({ name: 'tiny.png', size: 100, lastModified: 0 });
    expect(sameFile(small, await fingerprint(new Blob([bytes(100, 2)]), 'tiny.png'))).toBe(false);
  });
});
