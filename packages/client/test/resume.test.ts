// Resume after a reload, with IndexedDB (fake-indexeddb) and an in-memory fake of the API and storage:
// records survive the uploader, storage's part list wins over the record, and a lost File asks the
// user to pick it again.
// idb needs IndexedDB's globals (IDBRequest, …) as a browser has them; each test stubs a fresh indexedDB.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createIndexedDbResumeStore,
  createUploader,
  type ResumeRecord,
  type ResumeStore,
} from '../src/index.ts';
import type { SendRequest, SendResponse, Transport } from '../src/send.ts';

const PART = 1000;

afterEach(() => {
  vi.unstubAllGlobals();
});

/** A fake Darkroom API + storage holding multipart parts in memory. */
function fakeServer() {
  const parts = new Map<string, Map<number, { size: number; etag: string }>>();
  const plans = new Map<string, { size: number; status: string }>();
  const sentParts: number[] = [];
  let nextId = 1;
  const json = (status: number, body: unknown) =>
    new Response(body === undefined ? null : JSON.stringify(body), {
      status,
      headers: { 'content-type': 'application/json' },
    });
  const fetchImpl: typeof fetch = async (input, init) => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const body = init?.body ? (JSON.parse(String(init.body)) as Record<string, unknown>) : {};
    const m = /^\/v1\/(uploads|images)(?:\/([^/]+))?(?:\/(parts|complete))?$/.exec(url.pathname);
    if (!m) return json(404, { error: { code: 'not_found', message: 'no route' } });
    const [, kind, id, action] = m;
    const partCount = (i: string) => Math.ceil(plans.get(i)!.size / PART);
    if (kind === 'uploads' && !id && method === 'POST') {
      const newId = `img-${nextId++}`;
      plans.set(newId, { size: body.size as number, status: 'pending' });
      parts.set(newId, new Map());
      return json(201, {
        image: { id: newId, status: 'pending' },
        upload: {
          method: 'multipart',
          uploadId: `up-${newId}`,
          partSize: PART,
          partCount: partCount(newId),
          expiresAt: new Date(Date.now() + 600_000).toISOString(),
        },
      });
    }
    if (!id || !plans.has(id)) return json(404, { error: { code: 'not_found', message: `no image ${id}` } });
    const plan = plans.get(id)!;
    if (action === 'parts' && method === 'POST') {
      return json(200, {
        parts: (body.partNumbers as number[]).map((n) => ({
          partNumber: n,
          url: `http://storage/${id}?partNumber=${n}`,
          size: Math.min(PART, plan.size - (n - 1) * PART),
        })),
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
      });
    }
    if (action === 'parts' && method === 'GET') {
      if (plan.status !== 'pending')
        return json(409, { error: { code: 'conflict', message: 'not pending' } });
      const stored = [...parts.get(id)!.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([partNumber, p]) => ({ partNumber, ...p }));
      return json(200, { partSize: PART, partCount: partCount(id), parts: stored });
    }
    if (action === 'complete') {
      const given = (body.parts as { partNumber: number; etag: string }[]) ?? [];
      const stored = parts.get(id)!;
      const ok =
        given.length === partCount(id) && given.every((p) => stored.get(p.partNumber)?.etag === p.etag);
      if (!ok) return json(400, { error: { code: 'invalid_request', message: 'parts do not match' } });
      plan.status = 'uploaded';
      return json(200, { id, status: 'uploaded', bytes: plan.size });
    }
    if (kind === 'images' && method === 'GET') return json(200, { id, status: plan.status });
    if (method === 'DELETE') {
      plans.delete(id);
      return json(204, undefined);
    }
    return json(404, { error: { code: 'not_found', message: 'no route' } });
  };
  const storage: Transport = async (req: SendRequest): Promise<SendResponse> => {
    const url = new URL(req.url);
    const id = url.pathname.slice(1);
    const n = Number(url.searchParams.get('partNumber'));
    const bytes = new Uint8Array(await req.body.arrayBuffer());
    req.onProgress?.(bytes.length);
    const etag = `"${id}-${n}-${bytes[0]}-${bytes.length}"`;
    parts.get(id)!.set(n, { size: bytes.length, etag });
    sentParts.push(n);
    return { status: 200, etag, text: '' };
  };
  return { fetchImpl, storage, parts, plans, sentParts };
}

function content(size: number): Uint8Array<ArrayBuffer> {
  return Uint8Array.from({ length: size }, (_, i) => (i * 31 + (i >> 10)) & 0xff);
}

/** An uploader whose storage stores parts in `allowed` and hangs on every other (a crash). */
function crashingUploader(server: ReturnType<typeof fakeServer>, store: ResumeStore, allowed: number[]) {
  const transport: Transport = (req) => {
    const n = Number(new URL(req.url).searchParams.get('partNumber'));
    return allowed.includes(n) ? server.storage(req) : new Promise(() => {});
  };
  return createUploader({
    endpoint: 'http://api',
    token: 't',
    fetch: server.fetchImpl,
    transport,
    resumeStore: store,
    liveStatus: false,
    parallel: 1,
  });
}

async function until(check: () => boolean | Promise<boolean>) {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error('timed out');
}

describe('resume store (IndexedDB)', () => {
  it('keeps records, with the Blob being sent, across store instances (a reload)', async () => {
    // A fresh, empty IndexedDB per test, as idb opens the global one.
    vi.stubGlobal('indexedDB', new IDBFactory());
    const store = createIndexedDbResumeStore('t');
    const record = {
      imageId: 'a',
      endpoint: 'http://api',
      uploadId: 'u',
      partSize: 5,
      partCount: 2,
      source: { name: 'p.jpg', size: 8, lastModified: 1, edgesHash: 'x' },
      filename: 'p.jpg',
      contentType: 'image/jpeg',
      size: 8,
      processed: false,
      parts: [{ partNumber: 1, etag: '"e"', size: 5 }],
      blob: new Blob([content(8)]),
      createdAt: 1,
      updatedAt: 1,
    } satisfies ResumeRecord;
    await store.put(record);
    const reloaded = createIndexedDbResumeStore('t');
    const [got] = await reloaded.list();
    expect(got).toMatchObject({ imageId: 'a', parts: [{ partNumber: 1, etag: '"e"', size: 5 }] });
    expect(new Uint8Array(await got!.blob!.arrayBuffer())).toEqual(content(8));
    await reloaded.delete('a');
    expect(await store.get('a')).toBeUndefined();
  });
});

describe('resuming an interrupted multipart upload', () => {
  it("continues from storage's part list, not the record's, and never resends stored parts", async () => {
    const server = fakeServer();
    // A fresh, empty IndexedDB per test, as idb opens the global one.
    vi.stubGlobal('indexedDB', new IDBFactory());
    const data = content(4500); // 5 parts
    const first = crashingUploader(server, createIndexedDbResumeStore('r'), [1, 2]);
    const crashed = first.upload(new File([data], 'big.png', { type: 'image/png' }), { process: false });
    await until(async () => (await createIndexedDbResumeStore('r').list())[0]?.parts.length === 2);

    // After the "reload": a fresh store over the same database.
    const store = createIndexedDbResumeStore('r');
    const [record] = await store.list();
    expect(record).toMatchObject({ imageId: crashed.imageId, partCount: 5, processed: false });
    expect(record!.parts.map((p) => p.partNumber)).toEqual([1, 2]);

    // Storage knows better: part 3 landed before the crash (the record never heard of it), and part 2
    // is gone (say, a different size was stored); the record's word counts for nothing.
    const stored = server.parts.get(record!.imageId)!;
    stored.delete(2);
    const bytes3 = data.subarray(2 * PART, 3 * PART);
    stored.set(3, { size: PART, etag: `"${record!.imageId}-3-${bytes3[0]}-${PART}"` });

    server.sentParts.length = 0;
    const second = createUploader({
      endpoint: 'http://api',
      token: 't',
      fetch: server.fetchImpl,
      transport: server.storage,
      resumeStore: store,
      liveStatus: false,
    });
    expect((await second.pendingResumes()).map((r) => r.imageId)).toEqual([record!.imageId]);
    const handle = second.resume(record!, undefined, { wait: false });
    const image = await handle.result;
    expect(image).toMatchObject({ id: record!.imageId, status: 'uploaded' });
    expect(server.sentParts.sort()).toEqual([2, 4, 5]);
    // Progress counted the parts storage already had as sent.
    expect(handle.progress).toMatchObject({ sent: 4500, total: 4500, fraction: 1 });
    expect(await store.list()).toEqual([]);
  });

  it('asks for the file when the stored bytes cannot be read, refuses another file, then continues', async () => {
    const server = fakeServer();
    // A fresh, empty IndexedDB per test, as idb opens the global one.
    vi.stubGlobal('indexedDB', new IDBFactory());
    const data = content(3500);
    const picked = new File([data], 'photo.heic', { type: 'image/heic', lastModified: 42 });
    const first = crashingUploader(server, createIndexedDbResumeStore('n'), [1]);
    first.upload(picked, { process: false });
    await until(async () => (await createIndexedDbResumeStore('n').list())[0]?.parts.length === 1);

    // A store whose Blob is unreadable, as a File from before a reload is when the file changed or
    // the browser dropped the handle (NotReadableError).
    const inner = createIndexedDbResumeStore('n');
    const lostBlob = {
      size: 3500,
      slice: () => ({ arrayBuffer: () => Promise.reject(new DOMException('gone', 'NotReadableError')) }),
    } as unknown as Blob;
    const store: ResumeStore = {
      ...inner,
      get: inner.get,
      put: inner.put,
      delete: inner.delete,
      list: async () => (await inner.list()).map((r) => ({ ...r, blob: lostBlob })),
    };
    const second = createUploader({
      endpoint: 'http://api',
      token: 't',
      fetch: server.fetchImpl,
      transport: server.storage,
      resumeStore: store,
      liveStatus: false,
    });
    const [record] = await second.pendingResumes();
    const handle = second.resume(record!, undefined, { wait: false });
    const errors: string[] = [];
    handle.on('status', (s) => s.error && errors.push(s.error.code));
    await until(() => handle.state === 'needs-file');

    handle.provideFile(new File([content(3499)], 'photo.heic', { lastModified: 42 }));
    await until(() => errors.includes('file_mismatch'));
    expect(handle.state).toBe('needs-file');

    server.sentParts.length = 0;
    handle.provideFile(new File([data], 'photo.heic', { type: 'image/heic', lastModified: 42 }));
    await expect(handle.result).resolves.toMatchObject({ status: 'uploaded', bytes: 3500 });
    expect(server.sentParts.sort()).toEqual([2, 3, 4]);
  });

  it('reports resume_unavailable and forgets the record when the upload is gone from the server', async () => {
    const server = fakeServer();
    // A fresh, empty IndexedDB per test, as idb opens the global one.
    vi.stubGlobal('indexedDB', new IDBFactory());
    const first = crashingUploader(server, createIndexedDbResumeStore('g'), [1]);
    const crashed = first.upload(new File([content(2500)], 'a.png', { type: 'image/png' }), {
      process: false,
    });
    await until(async () => (await createIndexedDbResumeStore('g').list())[0]?.parts.length === 1);
    server.plans.delete(crashed.imageId!); // the janitor removed the stale upload
    const store = createIndexedDbResumeStore('g');
    const second = createUploader({
      endpoint: 'http://api',
      token: 't',
      fetch: server.fetchImpl,
      transport: server.storage,
      resumeStore: store,
      liveStatus: false,
    });
    const [record] = await second.pendingResumes();
    const handle = second.resume(record!);
    await expect(handle.result).rejects.toMatchObject({ code: 'resume_unavailable' });
    expect(await store.list()).toEqual([]);
  });
});

describe('resume store (JSON file, Node)', () => {
  it('keeps records without their bytes, across store instances, and survives a missing or broken file', async () => {
    const fs = await import('node:fs');
    const os = await import('node:os');
    const path = await import('node:path');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-resume-'));
    const file = path.join(dir, 'nested', 'resume.json');
    const { createFileResumeStore } = await import('../src/node.ts');
    const store = createFileResumeStore(file);
    expect(await store.list()).toEqual([]);
    const record: ResumeRecord = {
      imageId: 'a',
      endpoint: 'http://api',
      uploadId: 'u',
      partSize: 5,
      partCount: 2,
      source: { name: 'p.jpg', size: 8, lastModified: 1, edgesHash: 'x' },
      filename: 'p.jpg',
      contentType: 'image/jpeg',
      size: 8,
      processed: false,
      parts: [],
      blob: new Blob([content(8)]),
      sourcePath: '/photos/p.jpg',
      createdAt: 1,
      updatedAt: 1,
    };
    // Concurrent writes (parts finishing together) are serialised, none lost.
    await Promise.all([
      store.put(record),
      store.put({ ...record, imageId: 'b' }),
      store.put({ ...record, parts: [{ partNumber: 1, etag: '"e"', size: 5 }] }),
    ]);
    const again = createFileResumeStore(file);
    const listed = (await again.list()).sort((x, y) => x.imageId.localeCompare(y.imageId));
    expect(listed.map((r) => r.imageId)).toEqual(['a', 'b']);
    expect(listed[0]).toMatchObject({ sourcePath: '/photos/p.jpg', parts: [{ partNumber: 1 }] });
    expect(listed[0]!.blob).toBeUndefined();
    await again.delete('a');
    expect((await store.list()).map((r) => r.imageId)).toEqual(['b']);
    fs.writeFileSync(file, '{broken');
    expect(await store.list()).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
