import type { Processor, ProcessorResult } from './prepare.ts';
import type { WorkerReply, WorkerRequest } from './worker.ts';

let worker: Worker | undefined;
let nextId = 1;
const waiting = new Map<number, { resolve: (r: ProcessorResult) => void; reject: (e: Error) => void }>();

function startWorker(): Worker {
  // Written exactly like this so Vite finds and bundles the worker module.
  const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  w.onmessage = (e: MessageEvent<WorkerReply>) => {
    const entry = waiting.get(e.data.id);
    if (!entry) return;
    waiting.delete(e.data.id);
    if (e.data.ok) entry.resolve(e.data.result);
    else entry.reject(new Error(e.data.message));
  };
  w.onerror = (e) => {
    // A crashed worker (out of memory on a huge image) fails what it had; the next call starts a new one.
    for (const entry of waiting.values()) entry.reject(new Error(e.message || 'processing worker failed'));
    waiting.clear();
    w.terminate();
    if (worker === w) worker = undefined;
  };
  return w;
}

/** True where images can be processed in this browser (OffscreenCanvas + createImageBitmap). */
export function canProcessInBrowser(): boolean {
  return typeof OffscreenCanvas !== 'undefined' && typeof createImageBitmap === 'function';
}

/** The browser processor: a module Web Worker, or the main thread where workers are unavailable. */
export function browserProcessor(): Processor | undefined {
  if (!canProcessInBrowser()) return undefined;
  return async (blob, options, mode) => {
    if (typeof Worker === 'undefined') {
      return (await import('./browser-image.ts')).processInBrowser(blob, options, mode);
    }
    worker ??= startWorker();
    const id = nextId++;
    const request: WorkerRequest = { id, blob, options, mode };
    return new Promise<ProcessorResult>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker!.postMessage(request);
    });
  };
}
