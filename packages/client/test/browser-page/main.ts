// Test page for browser-processing.test.ts: exposes the SDK's processing (Web Worker) to page.evaluate.
import { prepare } from '../../src/prepare.ts';
import { browserProcessor } from '../../src/process-browser.ts';
import type { ProcessOptions } from '../../src/types.ts';

declare global {
  interface Window {
    sdkReady: boolean;
    /** On the page's thread, with WebP encoding made unavailable (as in browsers without it). */
    processWithoutWebp(path: string): Promise<{ contentType?: string; reason?: string; type?: string }>;
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
window.processWithoutWebp = async (path) => {
  const { processInBrowser } = await import('../../src/browser-image.ts');
  const original = OffscreenCanvas.prototype.convertToBlob;
  // Browsers that cannot encode WebP silently return PNG.
  OffscreenCanvas.prototype.convertToBlob = function (options) {
    return original.call(this, options?.type === 'image/webp' ? { ...options, type: 'image/png' } : options);
  };
  try {
    const blob = await (await fetch(`/@fs${path}`)).blob();
    const out = await processInBrowser(blob, { maxEdge: 800, format: 'webp', quality: 0.8 }, 'encode');
    return {
      ...(out.output ? { contentType: out.output.contentType, type: out.output.blob.type } : {}),
      ...(out.reason ? { reason: out.reason } : {}),
    };
  } finally {
    OffscreenCanvas.prototype.convertToBlob = original;
  }
};
window.sdkReady = true;
