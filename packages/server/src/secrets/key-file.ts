import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * Reads a secret file of the data dir, creating it (mode 0600, in a 0700 folder) with `make()` the first
 * time. Several processes sharing the data dir end up with the same content: the file is written aside
 * and linked into place, and link() refuses to replace, so of two racing processes one wins, whole.
 */
export async function loadOrCreateSecretFile(
  file: string,
  make: () => Promise<string> | string,
): Promise<{ text: string; created: boolean }> {
  const existing = await readIfPresent(file);
  if (existing !== undefined) {
    // A secret readable by others is tightened rather than trusted as is.
    const { mode } = await fs.stat(file);
    if ((mode & 0o077) !== 0) await fs.chmod(file, 0o600);
    return { text: existing, created: false };
  }
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${crypto.randomUUID()}.tmp`;
  await fs.writeFile(tmp, await make(), { mode: 0o600 });
  let created = false;
  try {
    await fs.link(tmp, file);
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
  return { text: await fs.readFile(file, 'utf8'), created };
}

async function readIfPresent(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
