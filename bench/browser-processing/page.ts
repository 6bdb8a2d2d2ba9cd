// The page bench/browser-processing.ts drives: the SDK's processing and browser-image-compression on the
// same photo, at the same longest edge, format and quality, timed in this browser.
import * as bicModule from 'browser-image-compression';
import { prepareImage } from '../../packages/client/src/index.ts';
// Internal on purpose: the second SDK row times the Web Worker's step alone, what browser-image-compression also does.
import { browserProcessor } from '../../packages/client/src/process-browser.ts';

// Its typings are a CommonJS-style `export default`, so under NodeNext TypeScript sees the function one
// `default` deeper than Vite's ESM bundle (its .mjs) puts it: take whichever is callable.
type Compress = typeof bicModule.default.default;
const imported = bicModule as unknown as { default: Compress | { default: Compress } };
const imageCompression: Compress =
  typeof imported.default === 'function' ? imported.default : imported.default.default;

export interface CaseResult {
  name: string;
  /** Wall time of each timed run, ms. */
  ms: number[];
  bytes: number;
  type: string;
  /** The last run's output, base64, for SSIM in Node. */
  base64: string;
  /** Longest main-thread task seen while this case ran (ms): jank the page would feel. */
  longestTaskMs: number;
}

export interface BenchOptions {
  photoUrl: string;
  maxEdge: number;
  quality: number;
  runs: number;
  /** Where the page serves browser-image-compression's script for its Web Worker (default: a CDN). */
  libUrl: string;
}

/** One point of the rate–distortion sweep: a library's output at one quality. */
export interface SweepPoint {
  library: 'sdk' | 'bic';
  quality: number;
  bytes: number;
  ms: number;
  /** The output, base64, for SSIM in Node. */
  base64: string;
}

export interface SweepOptions {
  photoUrl: string;
  maxEdge: number;
  qualities: number[];
  libUrl: string;
}

let longest = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) longest = Math.max(longest, e.duration);
}).observe({ type: 'longtask', buffered: false });

async function base64(blob: Blob): Promise<string> {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function run(name: string, runs: number, once: () => Promise<Blob>): Promise<CaseResult> {
  await once(); // warm-up: worker start, code compiled
  const ms: number[] = [];
  let out: Blob | undefined;
  longest = 0;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    out = await once();
    ms.push(performance.now() - t);
  }
  // Long tasks are reported asynchronously: let the observer catch up.
  await new Promise((r) => setTimeout(r, 100));
  return { name, ms, bytes: out!.size, type: out!.type, base64: await base64(out!), longestTaskMs: longest };
}

(window as unknown as { runBench: (o: BenchOptions) => Promise<CaseResult[]> }).runBench = async (o) => {
  const blob = await (await fetch(o.photoUrl)).blob();
  const file = new File([blob], 'photo.jpg', { type: 'image/jpeg', lastModified: 0 });
  const processor = browserProcessor();
  if (!processor) throw new Error('this browser cannot process images (no OffscreenCanvas)');
  const settings = { maxEdge: o.maxEdge, format: 'webp' as const, quality: o.quality };
  const results: CaseResult[] = [];
  results.push(
    await run('SDK prepareImage() (all it does before an upload)', o.runs, async () => {
      const r = await prepareImage(file, settings);
      if (!r.result.processed) throw new Error(`SDK kept the original: ${r.result.keptOriginalReason}`);
      return r.blob;
    }),
  );
  results.push(
    await run('SDK processor only (decode, resize, WebP, thumbhash)', o.runs, async () => {
      const r = await processor(file, settings, 'encode');
      if (!r.output) throw new Error(`SDK could not encode: ${r.reason}`);
      return r.output.blob;
    }),
  );
  results.push(
    await run('browser-image-compression (WebP, same edge and quality)', o.runs, () =>
      imageCompression(file, {
        maxWidthOrHeight: o.maxEdge,
        fileType: 'image/webp',
        initialQuality: o.quality,
        useWebWorker: true,
        libURL: o.libUrl,
      }),
    ),
  );
  results.push(
    await run('browser-image-compression (its defaults: JPEG, quality 1)', o.runs, () =>
      imageCompression(file, { maxWidthOrHeight: o.maxEdge, useWebWorker: true, libURL: o.libUrl }),
    ),
  );
  return results;
};
(window as unknown as { runSweep: (o: SweepOptions) => Promise<SweepPoint[]> }).runSweep = async (o) => {
  const blob = await (await fetch(o.photoUrl)).blob();
  const file = new File([blob], 'photo.jpg', { type: 'image/jpeg', lastModified: 0 });
  const processor = browserProcessor();
  if (!processor) throw new Error('this browser cannot process images (no OffscreenCanvas)');
  const libraries = {
    sdk: async (quality: number) => {
      const r = await processor(file, { maxEdge: o.maxEdge, format: 'webp', quality }, 'encode');
      if (!r.output) throw new Error(`SDK could not encode: ${r.reason}`);
      return r.output.blob;
    },
    bic: (quality: number) =>
      imageCompression(file, {
        maxWidthOrHeight: o.maxEdge,
        fileType: 'image/webp',
        initialQuality: quality,
        useWebWorker: true,
        libURL: o.libUrl,
      }),
  };
  const points: SweepPoint[] = [];
  for (const quality of o.qualities) {
    // Both libraries at each quality in turn, so the machine's drifting load hits both alike.
    for (const library of ['sdk', 'bic'] as const) {
      const t = performance.now();
      const out = await libraries[library](quality);
      const ms = performance.now() - t;
      if (out.type !== 'image/webp') throw new Error(`${library} gave ${out.type} at quality ${quality}`);
      points.push({ library, quality, bytes: out.size, ms, base64: await base64(out) });
    }
  }
  return points;
};
document.documentElement.dataset.ready = 'true';
