import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
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

interface ResumeSchema extends DBSchema {
  [STORE]: { key: string; value: ResumeRecord };
}

/**
 * Resume records in IndexedDB (the browser default). Records may hold the Blob being sent, so a
 * reload can continue without asking for the file again; when the browser can no longer read it the
 * upload asks for the file (`needs-file`). The database's layout (version 1, one store keyed by
 * `imageId`) is the one earlier versions wrote, so their interrupted uploads still resume.
 */
export function createIndexedDbResumeStore(name = 'darkroom-uploads'): ResumeStore {
  if (!globalThis.indexedDB)
    throw new Error('IndexedDB is not available here; use createMemoryResumeStore()');
  let db: Promise<IDBPDatabase<ResumeSchema>> | undefined;
  const open = () => {
    db ??= openDB<ResumeSchema>(name, 1, {
      upgrade: (database) => database.createObjectStore(STORE, { keyPath: 'imageId' }),
    });
    return db;
  };
  return {
    async get(id) {
      return (await open()).get(STORE, id);
    },
    async put(record) {
      try {
        await (await open()).put(STORE, record);
      } catch (err) {
        // Some browsers refuse Blobs in IndexedDB (private modes): keep the record without the bytes.
        if (!record.blob) throw err;
        const { blob: _dropped, ...rest } = record;
        await (await open()).put(STORE, rest);
      }
    },
    async delete(id) {
      await (await open()).delete(STORE, id);
    },
    async list() {
      return (await open()).getAll(STORE);
    },
  };
}
