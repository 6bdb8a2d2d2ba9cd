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
import type { BenchOptions, CaseResult } from './browser-processing/page.ts';
import { benchDir, repoRoot, writeResults } from './lib.ts';

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

async function main(): Promise<void> {
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
    }
  } finally {
    await browser.close();
    await server.close();
    fs.rmSync(outDir, { recursive: true, force: true });
  }

  const tables: string[] = [];
  for (const [i, photo] of PHOTOS.entries()) tables.push(await report(photo, results[i]!));

  const section = `${SECTION}

Run ${new Date().toISOString().replace(/\.\d+Z$/, 'Z')}; ${os.cpus().length} cores (${os.cpus()[0]?.model.trim()}), headless Chromium ${version} (Debian), Node ${process.version}; other sessions share the machine.
Both libraries: longest edge ${MAX_EDGE} px, WebP, quality ${QUALITY} (the SDK's defaults), each in its Web Worker; browser-image-compression also with its own defaults (JPEG, quality 1). One warm-up, then ${RUNS} timed runs each in the same page; the output of the last run is scored. Inputs: the largest JPEGs of \`testdata/\`, by pixels and by bytes.

SSIM: mean SSIM of BT.601 luma over 8×8 windows every 4 px (K1 = 0.01, K2 = 0.03), against sharp's lanczos3 resize of the same EXIF-oriented original to each output's exact size (1.0 = identical; an output left upside down would score near 0). "Detail vs reference" is the mean absolute Laplacian of the output's luma over the reference's (1.00 = as sharp as lanczos3; lower = softer, which also costs fewer bytes; not "higher is better": aliasing and ringing add high-frequency energy too). "Longest main-thread task" is the longest Long Task the page saw during the timed runs: what a user would feel as jank.

${tables.join('\n\n')}

How to read it: "SDK processor only" is its Web Worker's step: decode with orientation, halving-step resize with \`imageSmoothingQuality: 'high'\`, WebP encode, and a thumbhash from a ≤100 px render; "SDK prepareImage()" (its public API) adds what the SDK does around it before an upload (animation check, SHA-256 of the output). The processor row is the like-for-like one. browser-image-compression resizes with one \`drawImage\` (default smoothing) to the final size, and starts a new Web Worker (which imports its script again) for every file, where the SDK keeps one worker. Both use the same Chromium WebP encoder at the same quality. The iPhone photo needs no halving step (3264 → 2560), and there the two pipelines give the same bytes and SSIM; the 22 MP photo is first halved to 2880 px and then resized to 2560, and that second resampling is the one difference left, which points to it as the cause of the SDK's softer output there (lower detail, about half the bytes, slightly lower SSIM). Both turned the upside-down iPhone photo upright (SSIM 0.97 against the oriented reference). Times move with the machine's other load: compare rows of the same run.

Reproduce: \`npm run bench:browser\` (\`BENCH_RUNS=n\` for more runs). The page is \`bench/browser-processing/\`, built with Vite into a temp dir and served by a loopback static server.
`;
  await writeResults(SECTION, section);
  console.log(section);
}

await main();
