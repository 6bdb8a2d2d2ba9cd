import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type ConnectionLimits, DEFAULT_LIMITS, guardServer } from '../src/index.ts';

const LIMITS: ConnectionLimits = { ...DEFAULT_LIMITS, bodyWindowMs: 500, headersTimeoutMs: 5000 };
const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

/** A guarded server whose handler waits `holdMs` before reading the body, then answers its length. */
async function serve(holdMs: number, limits = LIMITS): Promise<number> {
  const server = http.createServer((req, res) => {
    setTimeout(async () => {
      let n = 0;
      try {
        for await (const chunk of req) n += (chunk as Buffer).length;
      } catch {
        return; // cut by the guard
      }
      res.end(String(n));
    }, holdMs);
  });
  const guard = guardServer(server, limits);
  server.on('close', () => guard.stop());
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('guardServer', () => {
  it('does not blame the client while the server itself is not reading (backpressure)', async () => {
    // 4 MiB sent at once, read only after four body windows.
    const port = await serve(2000);
    const res = await fetch(`http://127.0.0.1:${port}/`, {
      method: 'POST',
      body: new Uint8Array(4 * 1024 * 1024),
    });
    expect(await res.text()).toBe(String(4 * 1024 * 1024));
  });

  it('cuts a body that stops moving', async () => {
    const port = await serve(0);
    const closed = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc');
      });
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(true));
      setTimeout(() => resolve(false), 10_000).unref();
    });
    expect(closed).toBe(true);
  });

  it('frees a client address’s places as its connections close', async () => {
    const port = await serve(0, { ...LIMITS, maxConnectionsPerClient: 2 });
    const open = () =>
      new Promise<net.Socket>((resolve) => {
        const s = net.connect(port, '127.0.0.1', () => resolve(s));
        s.on('error', () => undefined);
      });
    const a = await open();
    const b = await open();
    const c = await open();
    await new Promise((r) => c.once('close', r));
    a.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'ok' });
    expect(await res.text()).toBe('2');
    b.destroy();
  });
});
