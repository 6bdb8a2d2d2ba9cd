// Test page for browser-processing.test.ts: exposes the SDK's processing (Web Worker) to page.evaluate.
import { prepare } from '../../src/prepare.ts';
import { browserProcessor } from '../../src/process-browser.ts';
import type { ProcessOptions } from '../../src/types.ts';

declare global {
  interface Window {
    sdkReady: boolean;
    processPath(path: string, name: string, type: string, options: ProcessOptions | false): Promise<unknown>;
  }
}

window.processPath = async (path, name, type, options) => {
  const blob = await (await fetch(`/@fs${path}`)).blob();
  const file = new File([blob], name, { type });
  const out = await prepare(file, type, options, browserProcessor());
  const bytes = new Uint8Array(await out.blob.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000)
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return { result: out.result, contentType: out.contentType, base64: btoa(binary) };
};
window.sdkReady = true;
