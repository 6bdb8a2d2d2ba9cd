/**
 * @module The one place that names where the test images live: this folder, carried in the repository
 * so that a fresh clone can run every test and benchmark. Provenance and licences: README.md beside it.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Absolute path of the test-image folder (no trailing slash). */
export const TESTDATA = path.dirname(fileURLToPath(import.meta.url));

/** Absolute path of one test image, e.g. `testImage('photos/DSCN0010.jpg')`. */
export function testImage(relative: string): string {
  return path.join(TESTDATA, relative);
}

export { xorshift } from './random.ts';
