import fs from 'node:fs';
import path from 'node:path';
import { nodeProcessor } from '../process-node.ts';
import { createMemoryResumeStore } from '../resume-store.ts';
import { nodeTransport } from '../transport-node.ts';
import type { Platform } from './platform.ts';

/** Node: node:http(s), sharp when installed (TIFF converted), resume records in memory, paths as files. */
export const platform: Platform = {
  transport: nodeTransport,
  processor: nodeProcessor,
  convertTypes: ['image/tiff'],
  resumeStore: createMemoryResumeStore,
  async openPath(p) {
    const stat = await fs.promises.stat(p);
    const blob = await fs.openAsBlob(p);
    return new File([blob], path.basename(p), { lastModified: Math.floor(stat.mtimeMs) });
  },
  absolutePath: (p) => path.resolve(p),
};
