import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { removeWhenGone } from './reaper.ts';

const run = promisify(execFile);

/** The shared broker (guest/guest from loopback); override with DARKROOM_TEST_AMQP_URL. */
export const RABBITMQ_URL = process.env.DARKROOM_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** The management API, used when it answers (the plugin is often off); rabbitmqctl otherwise. */
const MANAGEMENT_URL = process.env.DARKROOM_TEST_RABBITMQ_API ?? 'http://127.0.0.1:15672';

/** A virtual host of one test's own on the shared broker: its queues and connections are nobody else's. */
export interface TestVhost {
  name: string;
  /** `amqp://user:pass@host:port/<vhost>`: what DARKROOM_QUEUE_URL takes. */
  url: string;
  /** Deletes the vhost with everything in it (queues, exchanges, and the connections into it). */
  drop(): Promise<void>;
}

function brokerUser(): { user: string; password: string } {
  const u = new URL(RABBITMQ_URL);
  return {
    user: decodeURIComponent(u.username || 'guest'),
    password: decodeURIComponent(u.password || 'guest'),
  };
}

async function rabbitmqctl(args: string[]): Promise<string> {
  const { stdout } = await run('rabbitmqctl', ['--quiet', ...args], { timeout: 60_000 });
  return stdout;
}

let management: Promise<boolean> | undefined;
/** True when the management API answers with the broker's credentials. */
function managementAvailable(): Promise<boolean> {
  management ??= fetch(`${MANAGEMENT_URL}/api/overview`, {
    headers: managementAuth(),
    signal: AbortSignal.timeout(1000),
  }).then(
    (res) => res.ok,
    () => false,
  );
  return management;
}

function managementAuth(): Record<string, string> {
  const { user, password } = brokerUser();
  return { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

async function managementCall(method: string, path: string, body?: unknown): Promise<void> {
  const res = await fetch(`${MANAGEMENT_URL}/api${path}`, {
    method,
    headers: { ...managementAuth(), 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!res.ok && !(method === 'DELETE' && res.status === 404)) {
    throw new Error(`RabbitMQ management ${method} ${path}: ${res.status} ${await res.text()}`);
  }
}

/**
 * Creates a uniquely named vhost on the shared broker and gives the broker's user all rights in it,
 * through the management API when it answers, else `rabbitmqctl add_vhost` + `set_permissions`.
 */
export async function createVhost(prefix = 'darkroom-test'): Promise<TestVhost> {
  const name = `${prefix}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const { user } = brokerUser();
  const viaApi = await managementAvailable();
  if (viaApi) {
    await managementCall('PUT', `/vhosts/${encodeURIComponent(name)}`);
    await managementCall('PUT', `/permissions/${encodeURIComponent(name)}/${encodeURIComponent(user)}`, {
      configure: '.*',
      write: '.*',
      read: '.*',
    });
  } else {
    await rabbitmqctl(['add_vhost', name]);
    await rabbitmqctl(['set_permissions', '-p', name, user, '.*', '.*', '.*']);
  }
  const forget = removeWhenGone({ vhost: name });
  const url = new URL(RABBITMQ_URL);
  url.pathname = `/${encodeURIComponent(name)}`;
  return {
    name,
    url: url.toString(),
    drop: async () => {
      if (viaApi) await managementCall('DELETE', `/vhosts/${encodeURIComponent(name)}`);
      else await rabbitmqctl(['delete_vhost', name]).catch(() => undefined);
      forget();
    },
  };
}

/** A queue's counts as the broker sees them. */
export interface QueueStats {
  name: string;
  /** Ready + unacknowledged. */
  messages: number;
  ready: number;
  unacknowledged: number;
}

/** Every queue in `vhost` with its message counts (`rabbitmqctl list_queues`). */
export async function listQueues(vhost: string): Promise<QueueStats[]> {
  const out = await rabbitmqctl([
    'list_queues',
    '-p',
    vhost,
    'name',
    'messages',
    'messages_ready',
    'messages_unacknowledged',
    '--formatter',
    'json',
  ]);
  const rows = JSON.parse(out) as {
    name: string;
    messages: number;
    messages_ready: number;
    messages_unacknowledged: number;
  }[];
  return rows.map((r) => ({
    name: r.name,
    messages: r.messages,
    ready: r.messages_ready,
    unacknowledged: r.messages_unacknowledged,
  }));
}

/**
 * Closes, from the broker's side, the connections into `vhost` whose client-provided name starts with
 * `namePrefix` (`rabbitmqctl close_connection`): a dropped connection as the client sees it, while
 * every other connection (and the shared broker) carries on. Returns how many were closed.
 */
export async function closeConnections(vhost: string, namePrefix: string): Promise<number> {
  // The table output, not JSON: only it prints pids in the form close_connection accepts.
  const out = await rabbitmqctl([
    'list_connections',
    '--no-table-headers',
    'pid',
    'vhost',
    'client_properties',
  ]);
  const targets = out
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([pid, vh, props]) => {
      const name = /\{"connection_name","((?:[^"\\]|\\.)*)"\}/.exec(props ?? '')?.[1];
      return pid !== undefined && vh === vhost && name?.startsWith(namePrefix) === true;
    })
    .map(([pid]) => pid!);
  for (const pid of targets) await rabbitmqctl(['close_connection', pid, 'closed by a Darkroom test']);
  return targets.length;
}
