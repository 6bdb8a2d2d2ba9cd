/** Child processes the benchmarks start (Darkroom's roles through stack.ts, baselines directly) and their CPU and memory. */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const benchDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const repoRoot = path.dirname(benchDir);
export const darkroomBin = path.join(repoRoot, 'packages/server/bin/darkroom.js');

export interface Child {
  proc: ChildProcess;
  url: string;
  /** Everything it has printed so far (stdout and stderr), for servers spawnServer started. */
  output?(): string;
}

/**
 * Spawns `node args` (under `taskset -c pin` when `pin` names cores) and waits for the stdout line from
 * which `urlFrom` extracts the URL it serves.
 */
export function spawnServer(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  urlFrom: (line: string) => string | undefined,
  pin?: string,
): Promise<Child> {
  const [command, argv] = pin
    ? ['taskset', ['-c', pin, process.execPath, ...args]]
    : [process.execPath, [...args]];
  return new Promise<Child>((resolve, reject) => {
    const proc = spawn(command, argv, { cwd: repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let all = '';
    const timer = setTimeout(() => {
      // Not left running behind the error: nobody holds it to stop it later.
      proc.kill('SIGKILL');
      reject(new Error(`server did not start within 30 s: ${out}${err}`));
    }, 30_000);
    let started = false;
    proc.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      all += d.toString();
    });
    proc.stdout?.on('data', (d: Buffer) => {
      all += d.toString();
      if (started) return;
      out += d.toString();
      for (const line of out.split('\n')) {
        const url = urlFrom(line);
        if (url) {
          started = true;
          clearTimeout(timer);
          resolve({ proc, url, output: () => all });
          return;
        }
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening: ${out}${err}`));
    });
  });
}

/** The URL of a baseline server that prints `listening <port>` on 127.0.0.1 (a spawnServer `urlFrom`). */
export function listeningPort(line: string): string | undefined {
  const port = /^listening (\d+)/.exec(line)?.[1];
  return port ? `http://127.0.0.1:${port}` : undefined;
}

/** SIGTERM, then SIGKILL after 15 s; resolves when the child has exited. */
export async function stopChild(child: Child | undefined): Promise<void> {
  if (!child || child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.proc.once('exit', () => resolve()));
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** A port free right now on 127.0.0.1 (roles need each other's ports before they start). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A /proc/<pid>/status field in MiB (VmRSS, VmHWM), or undefined off Linux. */
export function statusMiB(pid: number | undefined, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc (Linux clock ticks are 1/100 s). */
export function cpuSeconds(pid: number | undefined): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  // utime and stime are fields 14 and 15 of stat, i.e. 12 and 13 after the command name.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
