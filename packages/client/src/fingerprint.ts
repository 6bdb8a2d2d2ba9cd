import { sha256, toHex } from './hash.ts';
import { fileName } from './restrictions.ts';
import type { FileFingerprint } from './types.ts';

const EDGE = 64 * 1024;

/**
 * Name, size, lastModified and a hash of the first and last 64 KiB: enough to recognise the same file
 * picked again after a reload, without reading all of it.
 */
export async function fingerprint(file: Blob, name = fileName(file)): Promise<FileFingerprint> {
  const head = file.slice(0, Math.min(EDGE, file.size));
  const tail = file.size > EDGE ? file.slice(Math.max(EDGE, file.size - EDGE)) : new Blob([]);
  const bytes = new Uint8Array(await new Blob([head, tail]).arrayBuffer());
  const lastModified =
    'lastModified' in file && typeof file.lastModified === 'number' ? file.lastModified : 0;
  return { name, size: file.size, lastModified, edgesHash: toHex(await sha256(bytes)) };
}

/**
 * Whether two fingerprints are the same file. `lastModified` is compared only when both know it:
 * some pickers (and Node paths re-opened) report 0.
 */
export function sameFile(a: FileFingerprint, b: FileFingerprint): boolean {
  if (a.size !== b.size || a.edgesHash !== b.edgesHash) return false;
  return !(a.lastModified && b.lastModified && a.lastModified !== b.lastModified);
}
