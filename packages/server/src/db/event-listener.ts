import pg from 'pg';
import type { Logger } from 'pino';
import { STATUS_EVENTS_CHANNEL } from './migrations.ts';

/** After a lost connection, the next attempt comes this much later (the hub polls meanwhile). */
const RECONNECT_MS = 2000;

/** A LISTEN connection that calls back when another process commits status events. */
export interface StatusEventsListener {
  /** True while the LISTEN is in place: every commit from now on will be heard. */
  readonly listening: boolean;
  close(): Promise<void>;
}

/**
 * Holds one PostgreSQL connection that LISTENs on the status-events channel (the image_events trigger
 * notifies it at each commit) and calls `onWake` for each notification. `onWake` also runs whenever
 * the LISTEN is (re)established, since commits made while it was down were not heard; `onChange` runs
 * when `listening` changes, so the hub can poll while it is false.
 */
export function listenForStatusEvents(
  url: string,
  log: Logger,
  onWake: () => void,
  onChange: () => void,
): StatusEventsListener {
  let client: pg.Client | undefined;
  let listening = false;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let warned = false;

  const setListening = (value: boolean) => {
    if (listening === value) return;
    listening = value;
    onChange();
  };
  const lost = (c: pg.Client, err?: unknown) => {
    if (client !== c) return;
    client = undefined;
    setListening(false);
    c.end().catch(() => {});
    if (closed) return;
    if (!warned) log.warn({ err }, 'status-event LISTEN connection lost; polling until it is back');
    warned = true;
    retry = setTimeout(connect, RECONNECT_MS);
    retry.unref();
  };
  const connect = () => {
    if (closed) return;
    // keepAlive: a silently dropped connection is noticed (and polling resumes) instead of waiting forever.
    const c = new pg.Client({ connectionString: url, keepAlive: true, connectionTimeoutMillis: 5000 });
    client = c;
    c.on('notification', () => onWake());
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    c.connect()
      .then(() => c.query(`LISTEN ${STATUS_EVENTS_CHANNEL}`))
      .then(() => {
        if (client !== c) return;
        if (warned) log.info('status-event LISTEN connection back');
        warned = false;
        setListening(true);
        onWake();
      })
      .catch((err: unknown) => lost(c, err));
  };
  connect();

  return {
    get listening() {
      return listening;
    },
    async close() {
      closed = true;
      clearTimeout(retry);
      const c = client;
      client = undefined;
      listening = false;
      await c?.end().catch(() => {});
    },
  };
}
