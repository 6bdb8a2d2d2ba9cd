import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claimWorkDir } from './work-dir.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('claimWorkDir', () => {
  it("removes a dead worker's leftovers but never a live worker's files", () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-workdir-'));
    dirs.push(dataDir);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    // A live worker: this test's parent process stands in for it.
    const live = process.ppid;
    for (const pid of [dead, live]) {
      fs.mkdirSync(path.join(dataDir, 'work', `worker-${pid}`, 'job'), { recursive: true });
      fs.writeFileSync(path.join(dataDir, 'work', `worker-${pid}`, 'job', 'original'), 'bytes');
    }
    const claimed = claimWorkDir(dataDir);
    expect(claimed.dir).toBe(path.join(dataDir, 'work', `worker-${process.pid}`));
    expect(fs.readdirSync(path.join(dataDir, 'work')).sort()).toEqual(
      [`worker-${live}`, `worker-${process.pid}`].sort(),
    );
    expect(fs.readFileSync(path.join(dataDir, 'work', `worker-${live}`, 'job', 'original'), 'utf8')).toBe(
      'bytes',
    );
    claimed.release();
    expect(fs.existsSync(claimed.dir)).toBe(false);
  });
});
