/**
 * In-process news that status events were committed: the SSE hub of an API that shares its process
 * with a worker (`darkroom start`) reads the log as soon as the worker commits, instead of at its next
 * poll. Other processes' commits reach it through PostgreSQL's NOTIFY (see event-listener.ts) or, on
 * SQLite, through polling.
 */

const listeners = new Set<() => void>();

/** Calls `fn` after every commit in this process that appended status events; returns the unsubscribe. */
export function onStatusEventsCommitted(fn: () => void): () => void {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** Tells this process's listeners that status events were just committed. */
export function statusEventsCommitted(): void {
  for (const fn of listeners) fn();
}
