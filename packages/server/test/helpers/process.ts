import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeWhenGone } from '@darkroom/testkit';

export const DARKROOM_BIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../bin/darkroom.js',
);

/**
 * A free loopback port (the listener is closed before it is returned), drawn below Linux's ephemeral
 * range (32768-60999): a port the kernel handed out for listen(0) is also one it hands to outgoing
 * connections, and in a full parallel run one of those took it before the test bound it (EADDRINUSE).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const free = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    if (free) return port;
  }
}

export interface RunningProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Waits until the output contains `text`. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Peak resident memory (VmHWM) in bytes, from /proc. */
  peakRss(): number;
}

/** Runs `darkroom <args>` with only the given DARKROOM_* environment (plus PATH and HOME). */
export function runDarkroom(args: string[], env: Record<string, string>, cwd?: string): RunningProcess {
  const child = spawn(process.execPath, [DARKROOM_BIN, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Killed with the test process even when it dies before its afterAll (a runner killed mid-run).
  if (child.pid !== undefined) child.once('exit', removeWhenGone({ pid: child.pid }));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return {
    child,
    output: () => out,
    exited,
    async waitForOutput(text, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      const matches = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      while (!matches()) {
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${String(text)}; output so far:\n${out}`);
        if (child.exitCode !== null)
          throw new Error(`process exited (${child.exitCode}) before ${String(text)}:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    peakRss() {
      const status = fs.readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
      return kb * 1024;
    },
  };
}
