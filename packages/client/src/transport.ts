import { hasXhr, type Transport } from './send.ts';

/** Picks the transport for this runtime; the Node one is loaded only in Node. */
export async function defaultTransport(): Promise<Transport> {
  if (hasXhr()) return (await import('./transport-browser.ts')).xhrTransport;
  return (await import('./transport-node.ts')).nodeTransport;
}
