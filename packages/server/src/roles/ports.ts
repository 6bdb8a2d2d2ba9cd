import net from 'node:net';

/** A port a role listens on, and the variable that sets it. */
export interface PortSetting {
  /** `DARKROOM_PORT`, `DARKROOM_S3_PORT`, … */
  variable: string;
  /** What listens there, for people: "the API", "the embedded SQS server". */
  serves: string;
  host: string;
  port: number;
}

/** A role could not listen: the message names the variable and how to choose another port, no stack. */
export class ListenError extends Error {
  readonly code = 'listen_failed';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ListenError';
  }
}

/** Resolves with the error code of listening on `host:port` (undefined when it could), then closes. */
function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'EUNKNOWN'));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** The first port after `from` that is free on `host` (a suggestion; undefined after 50 tries). */
async function nextFreePort(
  host: string,
  from: number,
  taken: ReadonlySet<number>,
): Promise<number | undefined> {
  for (let port = from + 1; port < Math.min(from + 50, 65_536); port++) {
    if (!taken.has(port) && (await tryListen(host, port)) === undefined) return port;
  }
  return undefined;
}

/** `127.0.0.1:9324 (DARKROOM_SQS_PORT, the embedded SQS server)`. */
function where(s: PortSetting): string {
  const host = s.host.includes(':') ? `[${s.host}]` : s.host;
  return `${host}:${s.port} (${s.variable}, ${s.serves})`;
}

/**
 * The message for settings that cannot be listened on, each with its reason, and a command line with free
 * ports for the busy ones. `command` is how the person started this role (`npx darkroom start`).
 */
async function explain(
  failures: readonly { setting: PortSetting; code: string }[],
  command: string,
  all: readonly PortSetting[],
): Promise<string> {
  const lines: string[] = [];
  const suggestions: string[] = [];
  const taken = new Set(all.map((s) => s.port));
  for (const { setting, code } of failures) {
    if (code === 'EADDRINUSE') {
      lines.push(`port ${where(setting)} is already in use`);
      const free = await nextFreePort(setting.host, setting.port, taken);
      if (free !== undefined) {
        taken.add(free);
        suggestions.push(`${setting.variable}=${free}`);
      }
    } else if (code === 'EACCES') {
      lines.push(`port ${where(setting)} needs privileges this user does not have (ports below 1024)`);
    } else if (code === 'EADDRNOTAVAIL') {
      lines.push(`${where(setting)}: DARKROOM_HOST ${setting.host} is not an address of this machine`);
    } else {
      lines.push(`cannot listen on ${where(setting)}: ${code}`);
    }
  }
  const busy = failures.some((f) => f.code === 'EADDRINUSE');
  let advice = '';
  if (busy) {
    // Two instances must not share a data folder (each cleans up what it finds unfinished there).
    const ownData = command.endsWith(' start');
    advice =
      `\nIs Darkroom already running? Stop it (Ctrl-C in its terminal), or choose other ports${ownData ? ' and a data folder of its own' : ''}` +
      (suggestions.length > 0 ? `, for example:\n  ${suggestions.join(' ')}` : ' with the variables above') +
      (ownData ? ' DARKROOM_DATA_DIR=./data-2' : '') +
      ` ${command}`;
  }
  return `Darkroom cannot start:\n${lines.map((l) => `  - ${l}`).join('\n')}${advice}`;
}

/**
 * Checks that every port can be listened on before anything starts, so one message lists every busy port
 * (instead of one failure per attempt). Port 0 (any free port) is skipped.
 */
export async function checkPorts(settings: readonly PortSetting[], command: string): Promise<void> {
  const failures: { setting: PortSetting; code: string }[] = [];
  for (const setting of settings) {
    if (setting.port === 0) continue;
    const code = await tryListen(setting.host, setting.port);
    if (code !== undefined) failures.push({ setting, code });
  }
  if (failures.length > 0) throw new ListenError(await explain(failures, command, settings));
}

/**
 * A listen failure (address in use, forbidden, not on this machine) as a ListenError that names the
 * variable of the port it happened on; undefined for any other error, or a port none of `settings` has.
 */
export async function explainListenError(
  err: unknown,
  settings: readonly PortSetting[],
  command: string,
): Promise<ListenError | undefined> {
  const e = err as NodeJS.ErrnoException & { port?: number };
  if (e?.code !== 'EADDRINUSE' && e?.code !== 'EACCES' && e?.code !== 'EADDRNOTAVAIL') return undefined;
  const setting = settings.find((s) => s.port === e.port);
  if (!setting) return undefined;
  return new ListenError(await explain([{ setting, code: e.code }], command, settings), { cause: err });
}
