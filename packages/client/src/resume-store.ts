import type { ResumeRecord, ResumeStore } from './types.ts';

/** Resume records in memory: Node's default, and tests. Survives the uploader, not the process. */
export function createMemoryResumeStore(): ResumeStore {
  const records = new Map<string, ResumeRecord>();
  return {
    async get(id) {
      return records.get(id);
    },
    async put(record) {
      records.set(record.imageId, record);
    },
    async delete(id) {
      records.delete(id);
    },
    async list() {
      return [...records.values()];
    },
  };
}

const STORE = 'uploads';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * Resume records in IndexedDB (the browser default). Records may hold the Blob being sent, so a
 * reload can continue without asking for the file again; when the browser can no longer read it the
 * upload asks for the file (`needs-file`).
 */
export function createIndexedDbResumeStore(
  name = 'darkroom-uploads',
  factory: IDBFactory | undefined = globalThis.indexedDB,
): ResumeStore {
  if (!factory) throw new Error('IndexedDB is not available here; use createMemoryResumeStore()');
  let db: Promise<IDBDatabase> | undefined;
  const open = () => {
    db ??= new Promise<IDBDatabase>((resolve, reject) => {
      const req = factory.open(name, 1);
      req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'imageId' });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return db;
  };
  const tx = async (mode: IDBTransactionMode) => (await open()).transaction(STORE, mode).objectStore(STORE);
  return {
    async get(id) {
      return (await request((await tx('readonly')).get(id))) as ResumeRecord | undefined;
    },
    async put(record) {
      try {
        await request((await tx('readwrite')).put(record));
      } catch (err) {
        // Some browsers refuse Blobs in IndexedDB (private modes): keep the record without the bytes.
        if (!record.blob) throw err;
        const { blob: _dropped, ...rest } = record;
        await request((await tx('readwrite')).put(rest));
      }
    },
    async delete(id) {
      await request((await tx('readwrite')).delete(id));
    },
    async list() {
      return (await request((await tx('readonly')).getAll())) as ResumeRecord[];
    },
  };
}

/** The default store: IndexedDB where it exists, memory otherwise. */
export function defaultResumeStore(): ResumeStore {
  return globalThis.indexedDB ? createIndexedDbResumeStore() : createMemoryResumeStore();
}
