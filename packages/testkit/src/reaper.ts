import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../reaper.sh');

/** Something a test made that must not outlive the test process. */
export type Leftover = { pid: number } | { vhost: string } | { database: string; adminUrl: string };

const lines = new Map<number, string>();
let nextKey = 0;
let file: string | undefined;

/** The start time of `pid` (field 22 of /proc/PID/stat), which tells it from a later process given the same PID. */
function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function write(): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, [...lines.values()].map((l) => `${l}\n`).join(''));
  fs.renameSync(tmp, file!);
}

/**
 * Has `leftover` removed once this process is gone, however it ends (a test runner killed mid-run,
 * Ctrl-C): a process is SIGKILLed, a vhost or database dropped, by reaper.sh, one watchdog per test
 * process. Returns the function to call once the test removed it itself.
 */
export function removeWhenGone(leftover: Leftover): () => void {
  let line: string;
  if ('pid' in leftover) {
    const start = startTime(leftover.pid);
    if (start === undefined) return () => undefined; // already gone
    line = `pid ${leftover.pid} ${start}`;
  } else if ('vhost' in leftover) {
    line = `vhost ${leftover.vhost}`;
  } else {
    line = `db ${leftover.database} ${leftover.adminUrl}`;
  }
  if (file === undefined) {
    file = path.join(os.tmpdir(), `darkroom-reaper-${process.pid}`);
    fs.writeFileSync(file, '');
    spawn('bash', [SCRIPT, String(process.pid), file], { detached: true, stdio: 'ignore' }).unref();
  }
  const key = nextKey++;
  lines.set(key, line);
  write();
  return () => {
    if (lines.delete(key)) write();
  };
}
