/**
 * Issue 6's browser benchmark: in headless Chromium, the SDK's processing of the large photo against
 * browser-image-compression at the same longest edge, format and quality: time, output bytes, and SSIM
 * (luma) against a reference resize of the same oriented original (sharp, lanczos3, same size).
 * Writes its section of bench/RESULTS.md. Run with `npm run bench:browser`.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import sharp, { type Sharp } from 'sharp';
import { build } from 'vite';
import type { BenchOptions, CaseResult, SweepOptions, SweepPoint } from './browser-processing/page.ts';
import { benchDir, repoRoot } from './lib/processes.ts';
import { writeResults } from './lib/results.ts';

const SECTION = '## Browser processing: the SDK vs browser-image-compression';
const CHROMIUM = process.env.DARKROOM_CHROMIUM ?? '/usr/bin/chromium';

import { TESTDATA } from '@darkroom/testdata';

/**
 * "The largest JPEG" read both ways: the 22 MP DSLR photo (most pixels; "the large photo" of the corpus
 * README) and the iPhone 5 photo (most bytes; Orientation 3, so both libraries must turn it upright).
 */
const PHOTOS = [
  { file: 'photos/canon-eos-5d-mark-iii_22mp.jpg', why: 'most pixels; EXIF + malformed XMP' },
  { file: 'orientation/apple-iphone-5_orientation3_gps.jpg', why: 'most bytes; EXIF with GPS, upside down' },
];
/** The SDK's default longest edge (the largest default variant), format and quality. */
const MAX_EDGE = 2560;
const QUALITY = 0.82;
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** The rate–distortion sweep: both libraries at each of these qualities (same edge, WebP). */
const SWEEP = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.82, 0.85, 0.9, 0.95];

/**
 * Mean SSIM (Wang et al. 2004) of two luma planes, over 8×8 windows every 4 pixels, with the usual
 * K1 = 0.01, K2 = 0.03, L = 255.
 */
export function ssim(a: Float64Array, b: Float64Array, width: number, height: number): number {
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  const W = 8;
  const N = W * W;
  let sum = 0;
  let count = 0;
  for (let y = 0; y + W <= height; y += 4) {
    for (let x = 0; x + W <= width; x += 4) {
      let sa = 0;
      let sb = 0;
      let saa = 0;
      let sbb = 0;
      let sab = 0;
      for (let j = 0; j < W; j++) {
        const row = (y + j) * width + x;
        for (let i = 0; i < W; i++) {
          const va = a[row + i]!;
          const vb = b[row + i]!;
          sa += va;
          sb += vb;
          saa += va * va;
          sbb += vb * vb;
          sab += va * vb;
        }
      }
      const ma = sa / N;
      const mb = sb / N;
      // Sample (co)variances, as in the reference implementation.
      const va = (saa - N * ma * ma) / (N - 1);
      const vb = (sbb - N * mb * mb) / (N - 1);
      const cov = (sab - N * ma * mb) / (N - 1);
      sum += ((2 * ma * mb + C1) * (2 * cov + C2)) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
      count++;
    }
  }
  return sum / count;
}

/** Mean absolute 4-neighbour Laplacian of a luma plane: fine detail; a softer resize scores lower. */
export function detail(y: Float64Array, width: number, height: number): number {
  let sum = 0;
  for (let r = 1; r < height - 1; r++) {
    for (let c = 1; c < width - 1; c++) {
      const i = r * width + c;
      sum += Math.abs(4 * y[i]! - y[i - 1]! - y[i + 1]! - y[i - width]! - y[i + width]!);
    }
  }
  return sum / ((width - 2) * (height - 2));
}

/** BT.601 luma of an image, after sharp decodes it (flattened on white, sRGB). */
async function luma(img: Sharp): Promise<{ y: Float64Array; width: number; height: number }> {
  const { data, info } = await img
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const y = new Float64Array(info.width * info.height);
  for (let p = 0, i = 0; p < y.length; p++, i += info.channels) {
    y[p] = 0.299 * data[i]! + 0.587 * data[i + 1]! + 0.114 * data[i + 2]!;
  }
  return { y, width: info.width, height: info.height };
}

/** Serves the built page, the photo and browser-image-compression's worker script on a loopback port. */
async function serve(root: string): Promise<{ url: string; close: () => Promise<void> }> {
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
  };
  const extra: Record<string, string> = {
    ...Object.fromEntries(PHOTOS.map((p) => [`/${p.file}`, path.join(TESTDATA, p.file)])),
    '/bic.js': path.join(
      repoRoot,
      'node_modules/browser-image-compression/dist/browser-image-compression.js',
    ),
  };
  const server = http.createServer((req, res) => {
    const p = decodeURIComponent((req.url ?? '/').split('?')[0]!);
    const file = extra[p] ?? path.join(root, p === '/' ? 'index.html' : p);
    if (!file.startsWith(root) && !Object.values(extra).includes(file)) {
      res.writeHead(403).end();
      return;
    }
    fs.readFile(file, (err, body) => {
      if (err) {
        res.writeHead(404).end();
        return;
      }
      const type = file.endsWith('.jpg')
        ? 'image/jpeg'
        : (types[path.extname(file)] ?? 'application/octet-stream');
      res.writeHead(200, { 'content-type': type }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Scores one photo's outputs against the reference and renders its table. */
async function report(photo: (typeof PHOTOS)[number], results: CaseResult[]): Promise<string> {
  const original = path.join(TESTDATA, photo.file);
  const source = await sharp(original).metadata();
  const reference = (w: number, h: number) =>
    luma(sharp(original).rotate().resize(w, h, { kernel: 'lanczos3', fit: 'fill' }));
  const rows: string[] = [];
  const lines: { medianMs: number; bytes: number; ssim: number; detail: number }[] = [];
  for (const r of results) {
    const out = Buffer.from(r.base64, 'base64');
    const got = await luma(sharp(out));
    // The reference: the same oriented original, resized by sharp with lanczos3 to exactly this size.
    const ref = await reference(got.width, got.height);
    const meta = await sharp(out).metadata();
    const line = {
      name: r.name,
      medianMs: median(r.ms),
      minMs: Math.min(...r.ms),
      bytes: r.bytes,
      size: `${got.width}×${got.height}`,
      format: meta.format,
      exif: meta.exif ? 'yes' : 'no',
      ssim: ssim(got.y, ref.y, got.width, got.height),
      detail: detail(got.y, got.width, got.height) / detail(ref.y, ref.width, ref.height),
      longest: r.longestTaskMs,
    };
    console.log(photo.file, line);
    lines.push(line);
    rows.push(
      `| ${line.name} | ${line.medianMs.toFixed(0)} (${line.minMs.toFixed(0)}) | ${(line.bytes / 1000).toFixed(0)} KB | ${line.size} | ${line.format} | ${line.ssim.toFixed(4)} | ${line.detail.toFixed(2)} | ${line.exif} | ${line.longest.toFixed(0)} |`,
    );
  }
  // A server-side yardstick for the SSIM column: sharp's own lanczos3 resize, encoded as WebP at the same quality.
  const t = performance.now();
  const yard = await sharp(original)
    .rotate()
    .resize(MAX_EDGE, MAX_EDGE, { fit: 'inside', kernel: 'lanczos3' })
    .webp({ quality: Math.round(QUALITY * 100) })
    .toBuffer();
  const yardMs = performance.now() - t;
  const got = await luma(sharp(yard));
  const ref = await reference(got.width, got.height);
  rows.push(
    `| yardstick, not in the browser: sharp lanczos3 → WebP q${Math.round(QUALITY * 100)} (Node, libvips) | ${yardMs.toFixed(0)} | ${(yard.length / 1000).toFixed(0)} KB | ${got.width}×${got.height} | webp | ${ssim(got.y, ref.y, got.width, got.height).toFixed(4)} | ${(detail(got.y, got.width, got.height) / detail(ref.y, ref.width, ref.height)).toFixed(2)} | no | – |`,
  );
  const [, sdk, bic] = lines as [unknown, (typeof lines)[number], (typeof lines)[number]];
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  return `**\`${photo.file}\`** (${source.width}×${source.height}, ${(fs.statSync(original).size / 1e6).toFixed(2)} MB, Orientation ${source.orientation ?? 1}; ${photo.why}). Like for like, the SDK took ${ratio(sdk.medianMs, bic.medianMs)}× browser-image-compression's time and sent ${ratio(sdk.bytes, bic.bytes)}× its bytes, at SSIM ${sdk.ssim.toFixed(4)} vs ${bic.ssim.toFixed(4)} (detail ${sdk.detail.toFixed(2)} vs ${bic.detail.toFixed(2)}).

| pipeline | time ms, median (min) | output | size | format | SSIM | detail vs reference | EXIF kept | longest main-thread task ms |
|---|--:|--:|--:|--:|--:|--:|--:|--:|
${rows.join('\n')}`;
}

/** A scored point of the sweep. */
interface RdPoint {
  quality: number;
  bytes: number;
  ssim: number;
  ms: number;
}

/** y at x, linear between the two points around it (sorted by x); undefined outside their range. */
export function interpolate(points: { x: number; y: number }[], x: number): number | undefined {
  const s = [...points].sort((a, b) => a.x - b.x);
  for (let i = 1; i < s.length; i++) {
    const a = s[i - 1]!;
    const b = s[i]!;
    if (x >= a.x && x <= b.x)
      return b.x === a.x ? (a.y + b.y) / 2 : a.y + ((b.y - a.y) * (x - a.x)) / (b.x - a.x);
  }
  return undefined;
}

/** SSIM and detail of an output against the lanczos3 reference of the same oriented original. */
function scorer(original: string) {
  const references = new Map<string, Promise<Awaited<ReturnType<typeof luma>>>>();
  return async (out: Buffer) => {
    const got = await luma(sharp(out));
    const key = `${got.width}x${got.height}`;
    if (!references.has(key)) {
      references.set(
        key,
        luma(sharp(original).rotate().resize(got.width, got.height, { kernel: 'lanczos3', fit: 'fill' })),
      );
    }
    const ref = await references.get(key)!;
    return {
      ssim: ssim(got.y, ref.y, got.width, got.height),
      detail: detail(got.y, got.width, got.height) / detail(ref.y, ref.width, ref.height),
    };
  };
}

/** The photo's rate–distortion comparison: sweep table, both "equal" readings, and their worst cases. */
async function rateDistortion(
  photo: (typeof PHOTOS)[number],
  points: SweepPoint[],
): Promise<{ text: string; minSsimGain: number; maxBytesRatio: number; msRatio: number }> {
  const score = scorer(path.join(TESTDATA, photo.file));
  const curves: Record<'sdk' | 'bic', RdPoint[]> = { sdk: [], bic: [] };
  for (const p of points) {
    const { ssim: s } = await score(Buffer.from(p.base64, 'base64'));
    curves[p.library].push({ quality: p.quality, bytes: p.bytes, ssim: s, ms: p.ms });
  }
  const { sdk, bic } = curves;
  // SSIM against log bytes: rate–distortion curves are close to straight on a log rate axis.
  const ssimOfBytes = sdk.map((p) => ({ x: Math.log(p.bytes), y: p.ssim }));
  const bytesOfSsim = sdk.map((p) => ({ x: p.ssim, y: Math.log(p.bytes) }));
  const sweepRows: string[] = [];
  const rdRows: string[] = [];
  const gains: number[] = [];
  const ratios: number[] = [];
  for (const [i, b] of bic.entries()) {
    const s = sdk[i]!;
    sweepRows.push(
      `| ${b.quality} | ${(s.bytes / 1000).toFixed(0)} KB | ${s.ssim.toFixed(4)} | ${s.ms.toFixed(0)} | ${(b.bytes / 1000).toFixed(0)} KB | ${b.ssim.toFixed(4)} | ${b.ms.toFixed(0)} |`,
    );
    const atBytes = interpolate(ssimOfBytes, Math.log(b.bytes));
    const logAtSsim = interpolate(bytesOfSsim, b.ssim);
    const atSsim = logAtSsim === undefined ? undefined : Math.exp(logAtSsim);
    if (atBytes !== undefined) gains.push(atBytes - b.ssim);
    if (atSsim !== undefined) ratios.push(atSsim / b.bytes);
    rdRows.push(
      `| ${b.quality} | ${(b.bytes / 1000).toFixed(0)} KB | ${b.ssim.toFixed(4)} | ${atBytes === undefined ? 'outside the sweep' : `${atBytes.toFixed(4)} (${atBytes >= b.ssim ? '+' : '−'}${Math.abs(atBytes - b.ssim).toFixed(4)})`} | ${atSsim === undefined ? 'outside the sweep' : `${(atSsim / 1000).toFixed(0)} KB (×${(atSsim / b.bytes).toFixed(2)})`} |`,
    );
  }
  const monotonic = sdk.every(
    (p, i) => i === 0 || (p.bytes > sdk[i - 1]!.bytes && p.ssim > sdk[i - 1]!.ssim),
  );
  const minSsimGain = Math.min(...gains);
  const maxBytesRatio = Math.max(...ratios);
  const msRatio = median(sdk.map((p) => p.ms)) / median(bic.map((p) => p.ms));
  const sign = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(4)}`;
  const summary = `Rate–distortion \`${photo.file}\`: at equal bytes, SDK SSIM − browser-image-compression SSIM: worst ${sign(minSsimGain)}, median ${sign(median(gains))} (${gains.length} of ${bic.length} points inside the SDK's sweep); at equal SSIM, SDK bytes / browser-image-compression bytes: worst ×${maxBytesRatio.toFixed(2)}, median ×${median(ratios).toFixed(2)} (${ratios.length} of ${bic.length}); sweep time SDK / browser-image-compression ×${msRatio.toFixed(2)} (medians)`;
  console.log(summary);
  const text = `**${summary}.**${monotonic ? '' : ' (The SDK curve is not monotonic in this run: read the interpolations with care.)'}

| quality | SDK bytes | SDK SSIM | SDK ms | b-i-c bytes | b-i-c SSIM | b-i-c ms |
|--:|--:|--:|--:|--:|--:|--:|
${sweepRows.join('\n')}

At each of browser-image-compression's points, the SDK's curve read at the same bytes and at the same SSIM:

| b-i-c quality | b-i-c bytes | b-i-c SSIM | SDK SSIM at those bytes (difference) | SDK bytes at that SSIM (× b-i-c) |
|--:|--:|--:|--:|--:|
${rdRows.join('\n')}`;
  return { text, minSsimGain, maxBytesRatio, msRatio };
}

async function main(): Promise<void> {
  const loadBefore = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: install it with \`apt-get install -y chromium\``);
  }
  // Built outside the repository: Biome would lint the bundle, and nothing of it is worth keeping.
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-page-'));
  await build({
    root: path.join(benchDir, 'browser-processing'),
    logLevel: 'warn',
    worker: { format: 'es' },
    build: { outDir, emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2500 },
  });
  const server = await serve(outDir);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const results: CaseResult[][] = [];
  const sweeps: SweepPoint[][] = [];
  let version: string;
  try {
    version = browser.version();
    const page = await browser.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    await page.goto(server.url);
    await page.waitForSelector('html[data-ready="true"]');
    for (const photo of PHOTOS) {
      const options: BenchOptions = {
        photoUrl: `/${photo.file}`,
        maxEdge: MAX_EDGE,
        quality: QUALITY,
        runs: RUNS,
        libUrl: `${server.url}/bic.js`,
      };
      results.push(
        await page.evaluate(
          (o) => (window as unknown as { runBench: (o: BenchOptions) => Promise<CaseResult[]> }).runBench(o),
          options,
        ),
      );
      const sweep: SweepOptions = {
        photoUrl: `/${photo.file}`,
        maxEdge: MAX_EDGE,
        qualities: SWEEP,
        libUrl: `${server.url}/bic.js`,
      };
      sweeps.push(
        await page.evaluate(
          (o) => (window as unknown as { runSweep: (o: SweepOptions) => Promise<SweepPoint[]> }).runSweep(o),
          sweep,
        ),
      );
    }
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(outDir, { recursive: true, force: true });
  }

  const tables: string[] = [];
  for (const [i, photo] of PHOTOS.entries()) tables.push(await report(photo, results[i]!));
  const rd: Awaited<ReturnType<typeof rateDistortion>>[] = [];
  for (const [i, photo] of PHOTOS.entries()) rd.push(await rateDistortion(photo, sweeps[i]!));
  const worstGain = Math.min(...rd.map((r) => r.minSsimGain));
  const worstRatio = Math.max(...rd.map((r) => r.maxBytesRatio));
  const verdict = `Rate–distortion over both photos: at equal bytes, SDK SSIM − browser-image-compression SSIM ≥ ${worstGain >= 0 ? '+' : '−'}${Math.abs(worstGain).toFixed(4)}; at equal SSIM, SDK bytes ≤ ×${worstRatio.toFixed(2)} of browser-image-compression's (target: ≥ 0 and ≤ 1: ${worstGain >= 0 && worstRatio <= 1 ? 'met' : 'NOT met'})`;
  console.log(verdict);

  const load = os.loadavg().map((l) => l.toFixed(1));
  const section = `${SECTION}

Run ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), headless Chromium ${version} (Debian), Node ${process.version}; other sessions share the machine (load average ${loadBefore} before the run, ${load.join(' / ')} after: 1, 5, 15 min).
Both libraries: longest edge ${MAX_EDGE} px, WebP, quality ${QUALITY} (the SDK's defaults), each in its Web Worker; browser-image-compression also with its own defaults (JPEG, quality 1). One warm-up, then ${RUNS} timed runs each in the same page; the output of the last run is scored. Inputs: the largest JPEGs of \`testdata/\`, by pixels and by bytes.

SSIM: mean SSIM of BT.601 luma over 8×8 windows every 4 px (K1 = 0.01, K2 = 0.03), against sharp's lanczos3 resize of the same EXIF-oriented original to each output's exact size (1.0 = identical; an output left upside down would score near 0). "Detail vs reference" is the mean absolute Laplacian of the output's luma over the reference's (1.00 = as sharp as lanczos3; lower = softer, which also costs fewer bytes; not "higher is better": aliasing and ringing add high-frequency energy too). "Longest main-thread task" is the longest Long Task the page saw during the timed runs: what a user would feel as jank.

${tables.join('\n\n')}

### Rate against distortion

One quality alone says little when two pipelines resize differently: a softer resize costs fewer bytes and scores a lower SSIM. So both libraries encoded each photo at every quality of ${SWEEP.join(', ')} (same edge, WebP, each in its Web Worker, one run each, the SDK and browser-image-compression alternating), and each output was scored as above. The SDK's curve (SSIM against log bytes, linear between its points) is then read at each of browser-image-compression's points: its SSIM at the same bytes, and its bytes at the same SSIM. Points where browser-image-compression's bytes or SSIM fall outside the SDK's sweep are not compared.

**${verdict}.**

${rd.map((r) => r.text).join('\n\n')}

How to read it: "SDK processor only" is its Web Worker's step: decode with orientation, one resize from the full decode, WebP encode, and a thumbhash from a ≤100 px render; "SDK prepareImage()" (its public API) adds what the SDK does around it before an upload (animation check, SHA-256 of the output). The processor row is the like-for-like one. The SDK's resize is one \`drawImage\` with \`imageSmoothingQuality: 'high'\` (Chromium's mipmapped filter) when the image shrinks 2× or more, and bilinear (\`'low'\`) above half size; browser-image-compression resizes with one \`drawImage\` at the default smoothing (\`'low'\`, bilinear) whatever the scale, and starts a new Web Worker (which imports its script again) for every file, where the SDK keeps one worker. Both use the same Chromium WebP encoder. So on the iPhone photo (3264 → 2560, above half size) both resize bilinearly at the same scale; browser-image-compression turns the photo upright on its own canvas where the SDK's decode applies the orientation, so the pixels differ slightly and the two curves cross: within ±0.0004 SSIM and ±1 % bytes, a tie at this measure's resolution, which misses the letter of the target (≥ and ≤ at every point) by up to 0.0002 SSIM and 1 % bytes. On the 22 MP photo (5760 → 2560, 2.25×) bilinear skips source pixels and aliases; the aliasing is detail the reference does not have, which the encoder pays bytes for, so at every compared point the SDK's output is closer to the reference at the same bytes and smaller at the same SSIM. The "detail" column at quality ${QUALITY} is not a verdict: the SDK's output there is smoother than browser-image-compression's aliased one, and the rate–distortion tables are what say which is better for its bytes. Times move with the machine's other load: compare rows of the same run.

Why this resize (measured once in the same Chromium with a scratch page, before this run; PNG outputs, so the resize alone, scored as above): on the 22 MP photo to 2560 px, the old halving-then-resize (5760 → 2880 → 2560, both \`'high'\`) kept SSIM 0.9802 / detail 0.74; one \`drawImage\` \`'high'\` (or \`'medium'\`, identical here) 0.9868 / 0.89 in 62 ms; \`createImageBitmap(bitmap, { resizeWidth, resizeHeight, resizeQuality: 'high' })\` gave the very same pixels (same WebP bytes) in 146 ms, and from the file in one call (decode and resize together) 1082 ms; bilinear \`'low'\` 0.9692 / 1.31 (aliased). On the iPhone photo (0.78×), \`'high'\` and bilinear score 0.9975 and 0.9969, but encoded, \`'high'\`'s blend of the half-size mip level made it lose to bilinear by up to 0.0003 SSIM (1 % bytes) at qualities 0.3–0.82 while winning above 0.85: a wash, so above half size the SDK keeps bilinear's sharper taps. Just past 2× (the iPhone photo to 1600 px, 0.49×) \`'high'\` won from quality 0.4 up (+0.0018 SSIM, ×0.89 bytes at 0.82) and lost up to 0.0006 at 0.2–0.3. A real lanczos3 above half size was tried too (2026-12-06, pica 10 in the SDK's worker, WASM, the iPhone photo, quiet machine): it met the rate–distortion target (at equal bytes worst +0.0001, median +0.0006 SSIM; at equal SSIM worst ×1.00, median ×0.98 bytes) but the resize alone took 250–285 ms (pica's whole-buffer lanczos3 250, lanczos2 207, hamming 170), so the processor took 715 ms against browser-image-compression's 489 (×1.46, sweep ×1.49) where bilinear takes 433: a lanczos on the CPU cannot be both better and faster here, and the SDK keeps bilinear (issue 16.7 is left at this tie; a GPU resize in the worker, WebGL2 on an OffscreenCanvas, is the way that could be both).

Reproduce: \`npm run bench:browser\` (\`BENCH_RUNS=n\` for more timed runs). The page is \`bench/browser-processing/\`, built with Vite into a temp dir and served by a loopback static server.
`;
  await writeResults(SECTION, section);
  console.log(section);
}

await main();
