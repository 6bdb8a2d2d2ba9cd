import fs from 'node:fs';
import path from 'node:path';

const OWNED = /^worker-(\d+)$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * This process's scratch folder under `{dataDir}/work`. Several workers may share a data dir, so each
 * gets `worker-{pid}` and, at start-up, removes only the folders of workers that are no longer running
 * (what a crashed worker left behind), never a live one's files mid-job.
 */
export function claimWorkDir(dataDir: string): { dir: string; release(): void } {
  const root = path.join(dataDir, 'work');
  fs.mkdirSync(root, { recursive: true });
  for (const entry of fs.readdirSync(root)) {
    const pid = Number(OWNED.exec(entry)?.[1]);
    if (pid && pid !== process.pid && !isAlive(pid)) {
      fs.rmSync(path.join(root, entry), { recursive: true, force: true });
    }
  }
  const dir = path.join(root, `worker-${process.pid}`);
  // Left over from an earlier process with this pid, which is gone: start clean.
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir);
  return { dir, release: () => fs.rmSync(dir, { recursive: true, force: true }) };
}
