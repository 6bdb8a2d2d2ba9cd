// The processing Web Worker: decoding, resizing and encoding happen here so the page never janks.
import { processInBrowser } from './browser-image.ts';
import type { ProcessorResult, ResolvedProcessOptions } from './prepare.ts';

export interface WorkerRequest {
  id: number;
  blob: Blob;
  options: ResolvedProcessOptions;
  mode: 'encode' | 'thumbhash';
}
export type WorkerReply =
  | { id: number; ok: true; result: ProcessorResult }
  | { id: number; ok: false; message: string };

// The DOM lib types `self` as Window; in a dedicated worker it is the worker scope.
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<WorkerRequest>) => void) | null;
  postMessage(message: WorkerReply): void;
};

scope.onmessage = async (e) => {
  const { id, blob, options, mode } = e.data;
  try {
    scope.postMessage({ id, ok: true, result: await processInBrowser(blob, options, mode) });
  } catch (err) {
    scope.postMessage({ id, ok: false, message: err instanceof Error ? err.message : String(err) });
  }
};
