import fs from 'node:fs';
import type { ResumeRecord, ResumeStore } from './types.ts';

/**
 * Resume records in a JSON file (Node; `darkroom upload`). Bytes are not kept: on resume the file is
 * read again from `sourcePath`. Writes go to a temporary file renamed into place, so a crash mid-write
 * leaves the previous version.
 */
export function createFileResumeStore(file: string): ResumeStore {
  let chain: Promise<unknown> = Promise.resolve();
  const read = async (): Promise<Record<string, ResumeRecord>> => {
    try {
      return JSON.parse(await fs.promises.readFile(file, 'utf8')) as Record<string, ResumeRecord>;
    } catch {
      return {};
    }
  };
  const write = async (records: Record<string, ResumeRecord>) => {
    const { promises } = fs;
    const tmp = `${file}.${process.pid}.tmp`;
    await promises.mkdir(file.replace(/[/\\][^/\\]*$/, '') || '.', { recursive: true });
    await promises.writeFile(tmp, JSON.stringify(records, null, 2));
    await promises.rename(tmp, file);
  };
  // Read-modify-write steps run one at a time.
  const update = (fn: (records: Record<string, ResumeRecord>) => void) => {
    const next = chain.then(async () => {
      const records = await read();
      fn(records);
      await write(records);
    });
    chain = next.catch(() => {});
    return next;
  };
  return {
    async get(id) {
      await chain;
      return (await read())[id];
    },
    async put(record) {
      const { blob: _bytes, ...rest } = record;
      await update((records) => {
        records[record.imageId] = rest;
      });
    },
    async delete(id) {
      await update((records) => {
        delete records[id];
      });
    },
    async list() {
      await chain;
      return Object.values(await read());
    },
  };
}
