/**
 * Upload paths (the seed article's claim): uploads through the application server tie it up, presigned
 * direct uploads do not. Same photos, same storage (one `darkroom s3` + `darkroom sqs`), same 50 clients:
 *
 * - traditional: bench/traditional-server.ts (its own process) receives multipart/form-data, writes a temp
 *   file, PutObjects it to the embedded S3, deletes the temp file, inserts a SQLite row;
 * - darkroom: `darkroom api` (its own process) answers POST /v1/uploads with a presigned PUT URL and the
 *   client PUTs the bytes straight to the embedded S3.
 *
 * Measured for the API process only (the traditional server vs `darkroom api`, both pinned to core 0):
 * CPU seconds per 100 uploads, peak RSS (VmHWM), temp-disk use (sampled every 50 ms) and data-dir growth,
 * uploads per second and p50/p99 upload latency. Writes bench/upload-paths.svg and the section
 * "Upload paths" of bench/RESULTS.md.
 *
 * Run: npm run bench:upload-paths   (BENCH_DURATION=10 for a short trial; default 60 s per path)
 * Runs the compiled server (packages/server/dist): the npm script builds it first.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { testImage } from '@darkroom/testdata';
import sharp from 'sharp';
import ts from 'typescript';
import {
  benchDir,
  type Child,
  cpuSeconds,
  listeningPort,
  repoRoot,
  spawnServer,
  statusMiB,
  stopChild,
} from './lib/processes.ts';
import { writeResults } from './lib/results.ts';
import { BENCH_JWT_SECRET, mintToken, type Stack, startStack } from './lib/stack.ts';
import { percentile } from './lib/stats.ts';

const SECTION = "## Upload paths: through the app server vs presigned (the seed's claim)";
const DURATION_S = Number(process.env.BENCH_DURATION ?? 60);
const WARMUP_S = Math.min(5, Math.max(1, Math.round(DURATION_S / 10)));
const CLIENTS = 50;
const ACCESS_KEY_ID = 'AKIDBENCHUPLOADPATHS';
const SECRET_ACCESS_KEY = 'bench-upload-paths-secret-0123456789';
const BUCKET = 'darkroom';
const REGION = 'us-east-1';
/** The process under test (traditional server or darkroom api) gets core 0; everything else core 1. */
const API_CORE = '0';
const OTHER_CORE = '1';
const SAMPLE_MS = 50;
/**
 * The largest real JPEGs in testdata/ (1.9-2.4 MB each). Phones write ~5 MB photos, so each is re-encoded
 * at phone-like quality (see {@link phoneSized}) before the run.
 */
const SOURCES = [
  'orientation/apple-iphone-5_orientation3_gps.jpg',
  'photos/canon-eos-5d-mark-iii_22mp.jpg',
  'photos/HMD_Nokia_8.3_5G.jpg',
  'photos/oppo-r7-plus_13mp_gps.jpg',
].map(testImage);
/** What a phone photo weighs (the issue's "~5 MB"). */
const PHOTO_TARGET_BYTES = 5_000_000;
/** JPEG settings of a phone camera's "high quality": q95, no chroma subsampling. */
const PHONE_JPEG = { quality: 95, chromaSubsampling: '4:4:4', mozjpeg: false } as const;
const SVG_FILE = path.join(benchDir, 'upload-paths.svg');

// ---------------------------------------------------------------------------------------------------
// Small helpers.

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);

/** Total bytes of the files under `dir` (recursively); 0 if it vanished meanwhile. */
async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = await fsp.readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else
      total += await fsp.stat(p).then(
        (st) => st.size,
        () => 0,
      ); // deleted between readdir and stat
  }
  return total;
}

/** Pins this process (the load generator) to `core`, so it never competes with the process under test. */
function pinSelf(core: string): void {
  spawnSync('taskset', ['-a', '-p', '-c', core, String(process.pid)], { stdio: 'ignore' });
}

/**
 * Compiles a bench server (`traditional-server`, `bare-server`) to plain JS under node_modules/.cache, so
 * it runs without tsx's loader thread (which would add to its RSS and CPU), like the compiled `darkroom api`.
 */
async function compileServer(name: string): Promise<string> {
  const source = await fsp.readFile(path.join(benchDir, `${name}.ts`), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  });
  // Inside the repo so that `fastify`, `busboy`, … resolve from the root node_modules.
  const dir = path.join(repoRoot, 'node_modules/.cache/darkroom-bench');
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, `${name}-${process.pid}.mjs`);
  await fsp.writeFile(file, outputText);
  return file;
}

// ---------------------------------------------------------------------------------------------------
// HTTP client (node:http, keep-alive; the same for both paths).

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS * 2 });

interface Answer {
  status: number;
  body: string;
}

/** One request with a buffered body; resolves with the status and the response text. */
function request(
  url: string,
  method: string,
  headers: http.OutgoingHttpHeaders,
  body: Buffer | string,
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

interface Photo {
  name: string;
  bytes: Buffer;
  /** The real photo's size, and the upscale and pixel size that made this one ~5 MB. */
  source: { bytes: number; scale: number; width: number; height: number };
  /** The whole multipart/form-data body for the traditional path, built once. */
  multipart: Buffer;
}

const BOUNDARY = '----darkroom-bench-boundary-7f3a9c';

/**
 * A ~5 MB phone-sized photo derived from a real one: resampled (Lanczos) by the factor that brings it to
 * ~5 MB and encoded as a JPEG at q95 without chroma subsampling, as a phone's high-quality setting writes
 * them (EXIF kept, orientation included). Always resampled: re-encoding a JPEG on its own 8x8 grid costs
 * little (its coefficients are already quantised), so it would stay ~2.5 MB at any quality. The factor
 * starts at 1.2 and is corrected twice (size grows about linearly with the pixel count). Deterministic:
 * the same source and sharp build give the same bytes.
 */
async function phoneSized(
  file: string,
): Promise<{ bytes: Buffer; scale: number; width: number; height: number }> {
  const meta = await sharp(file).metadata();
  const sourceWidth = meta.width ?? 0;
  const encode = async (scale: number) => {
    let width = Math.round(sourceWidth * scale);
    if (width === sourceWidth) width += 1;
    return sharp(file)
      .resize({ width, kernel: 'lanczos3' })
      .keepMetadata()
      .jpeg(PHONE_JPEG)
      .toBuffer({ resolveWithObject: true });
  };
  let scale = 1.2;
  let out = await encode(scale);
  for (let i = 0; i < 2 && Math.abs(out.data.length / PHOTO_TARGET_BYTES - 1) > 0.03; i++) {
    scale = Math.round(scale * Math.sqrt(PHOTO_TARGET_BYTES / out.data.length) * 1000) / 1000;
    out = await encode(scale);
  }
  return { bytes: out.data, scale, width: out.info.width, height: out.info.height };
}

/** Derives the photos into `dir` and builds their multipart bodies (a text field and the file part, as a browser form sends). */
async function loadPhotos(dir: string): Promise<Photo[]> {
  return Promise.all(
    SOURCES.map(async (file) => {
      const { bytes, scale, width, height } = await phoneSized(file);
      const name = path.basename(file);
      // On disk too, as a phone's photo is before its upload (and to look at after a run, if kept).
      await fsp.writeFile(path.join(dir, name), bytes);
      const head = Buffer.from(
        `--${BOUNDARY}\r\nContent-Disposition: form-data; name="visibility"\r\n\r\npublic\r\n` +
          `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\n` +
          'Content-Type: image/jpeg\r\n\r\n',
      );
      const tail = Buffer.from(`\r\n--${BOUNDARY}--\r\n`);
      return {
        name,
        bytes,
        source: { bytes: (await fsp.stat(file)).size, scale, width, height },
        multipart: Buffer.concat([head, bytes, tail]),
      };
    }),
  );
}

type Uploader = (photo: Photo, token: string) => Promise<void>;

/** The traditional path: one multipart POST to the app server, which stores the bytes itself. */
function traditionalUploader(url: string): Uploader {
  return async (photo, token) => {
    const r = await request(
      `${url}/upload`,
      'POST',
      {
        authorization: `Bearer ${token}`,
        'content-type': `multipart/form-data; boundary=${BOUNDARY}`,
        'content-length': photo.multipart.length,
      },
      photo.multipart,
    );
    if (r.status !== 201) throw new Error(`POST /upload → ${r.status} ${r.body.slice(0, 200)}`);
  };
}

interface Intent {
  upload: { method: string; url: string; headers?: Record<string, string> };
}

/** Darkroom's path: POST /v1/uploads for a presigned URL, then PUT the bytes straight to S3. */
function darkroomUploader(url: string): Uploader {
  return async (photo, token) => {
    const body = JSON.stringify({
      filename: photo.name,
      contentType: 'image/jpeg',
      size: photo.bytes.length,
    });
    const r = await request(
      `${url}/v1/uploads`,
      'POST',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body,
    );
    if (r.status !== 201) throw new Error(`POST /v1/uploads → ${r.status} ${r.body.slice(0, 200)}`);
    const { upload } = JSON.parse(r.body) as Intent;
    if (upload.method !== 'put') throw new Error(`expected a PUT intent, got ${upload.method}`);
    const put = await request(
      upload.url,
      'PUT',
      { ...upload.headers, 'content-length': photo.bytes.length },
      photo.bytes,
    );
    if (put.status !== 200) throw new Error(`PUT → ${put.status} ${put.body.slice(0, 200)}`);
  };
}

/**
 * The floor under any API on this path: the same POST, answered by a bare Fastify route with a constant
 * JSON of an intent's size (no auth, database or signing), then the same PUT to storage, with a URL
 * darkroom presigned before the phase (one per client and photo). Its API CPU per upload is what one small
 * HTTP request costs at this pace on this machine, whatever the API does.
 */
function floorUploader(url: string, putUrls: ReadonlyMap<string, string>): Uploader {
  return async (photo, token) => {
    const r = await request(
      `${url}/v1/uploads`,
      'POST',
      { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      JSON.stringify({ filename: photo.name, contentType: 'image/jpeg', size: photo.bytes.length }),
    );
    if (r.status !== 201) throw new Error(`bare POST → ${r.status}`);
    const put = await request(
      putUrls.get(`${token} ${photo.name}`)!,
      'PUT',
      { 'content-type': 'image/jpeg', 'content-length': photo.bytes.length },
      photo.bytes,
    );
    if (put.status !== 200) throw new Error(`PUT → ${put.status} ${put.body.slice(0, 200)}`);
  };
}

/** One presigned PUT URL per token and photo, from darkroom's API, for {@link floorUploader}, and the answers' length. */
async function presignedUrls(
  api: string,
  photos: readonly Photo[],
  tokens: readonly string[],
): Promise<{ urls: Map<string, string>; answerBytes: number }> {
  const urls = new Map<string, string>();
  let answerBytes = 0;
  for (const token of tokens) {
    for (const photo of photos) {
      const r = await request(
        `${api}/v1/uploads`,
        'POST',
        { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        JSON.stringify({ filename: photo.name, contentType: 'image/jpeg', size: photo.bytes.length }),
      );
      if (r.status !== 201) throw new Error(`POST /v1/uploads → ${r.status} ${r.body.slice(0, 200)}`);
      urls.set(`${token} ${photo.name}`, (JSON.parse(r.body) as Intent).upload.url);
      answerBytes = Math.max(answerBytes, Buffer.byteLength(r.body));
    }
  }
  return { urls, answerBytes };
}

// ---------------------------------------------------------------------------------------------------
// Load and sampling.

interface Phase {
  uploads: number;
  bytes: number;
  errors: number;
  firstError?: string;
  latencies: number[];
  wallS: number;
  /** CPU seconds of the process under test, of the embedded S3 server and of this client. */
  apiCpuS: number;
  s3CpuS: number;
  sqsCpuS: number;
  clientCpuS: number;
}

/** Runs CLIENTS lanes for `seconds`, each uploading the photos in turn with its own user's token. */
async function load(
  upload: Uploader,
  photos: readonly Photo[],
  tokens: readonly string[],
  seconds: number,
  pids: { api: number | undefined; s3: number | undefined; sqs: number | undefined },
): Promise<Phase> {
  const phase: Phase = {
    uploads: 0,
    bytes: 0,
    errors: 0,
    latencies: [],
    wallS: 0,
    apiCpuS: 0,
    s3CpuS: 0,
    sqsCpuS: 0,
    clientCpuS: 0,
  };
  const [api0, s30, sqs0, self0, t0] = [
    cpuSeconds(pids.api),
    cpuSeconds(pids.s3),
    cpuSeconds(pids.sqs),
    process.cpuUsage(),
    performance.now(),
  ];
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    tokens.map(async (token, lane) => {
      for (let i = lane; performance.now() < deadline; i++) {
        const photo = photos[i % photos.length]!;
        const start = performance.now();
        try {
          await upload(photo, token);
          phase.latencies.push(performance.now() - start);
          phase.uploads++;
          phase.bytes += photo.bytes.length;
        } catch (err) {
          phase.errors++;
          phase.firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  // Uploads still in flight at the deadline finish and count: wall time runs to the last one.
  phase.wallS = (performance.now() - t0) / 1000;
  phase.apiCpuS = cpuSeconds(pids.api) - api0;
  phase.s3CpuS = cpuSeconds(pids.s3) - s30;
  phase.sqsCpuS = cpuSeconds(pids.sqs) - sqs0;
  const self = process.cpuUsage(self0);
  phase.clientCpuS = (self.user + self.system) / 1e6;
  return phase;
}

/**
 * CPU µs per `POST /v1/uploads` of the process `pid` serves at `url` with 32 requests in flight for
 * `seconds` (no PUT), the clients' users in turn: the same request back to back, for comparison with the
 * paced phases.
 */
async function burstCpuUs(
  url: string,
  pid: number | undefined,
  tokens: readonly string[],
  seconds: number,
): Promise<number> {
  const body = JSON.stringify({ filename: 'photo.jpg', contentType: 'image/jpeg', size: PHOTO_TARGET_BYTES });
  const cpu0 = cpuSeconds(pid);
  const deadline = performance.now() + seconds * 1000;
  let requests = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (performance.now() < deadline) {
        const token = tokens[requests % tokens.length];
        const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
        const r = await request(`${url}/v1/uploads`, 'POST', headers, body);
        if (r.status !== 201) throw new Error(`POST /v1/uploads → ${r.status} ${r.body.slice(0, 200)}`);
        requests++;
      }
    }),
  );
  return ((cpuSeconds(pid) - cpu0) * 1e6) / requests;
}

/** Adds phase `b` into `a` (the traditional path runs in two halves around darkroom's). */
function merge(a: Phase, b: Phase): Phase {
  return {
    uploads: a.uploads + b.uploads,
    bytes: a.bytes + b.bytes,
    errors: a.errors + b.errors,
    firstError: a.firstError ?? b.firstError,
    latencies: [...a.latencies, ...b.latencies],
    wallS: a.wallS + b.wallS,
    apiCpuS: a.apiCpuS + b.apiCpuS,
    s3CpuS: a.s3CpuS + b.s3CpuS,
    sqsCpuS: a.sqsCpuS + b.sqsCpuS,
    clientCpuS: a.clientCpuS + b.clientCpuS,
  };
}

interface DiskPeaks {
  /** Peak bytes in the traditional server's temp dir. */
  tradTemp: number;
  /** Peak growth of each API's data dir (SQLite + WAL) over its size when sampling started. */
  tradData: number;
  apiData: number;
  samples: number;
}

/** Samples the temp dir and both data dirs every SAMPLE_MS until stopped; returns the peaks. */
function sampleDisk(dirs: { tradTemp: string; tradData: string; apiData: string }) {
  const peaks: DiskPeaks = { tradTemp: 0, tradData: 0, apiData: 0, samples: 0 };
  let running = true;
  const done = (async () => {
    const base = { tradData: await dirBytes(dirs.tradData), apiData: await dirBytes(dirs.apiData) };
    while (running) {
      const [temp, tradData, apiData] = await Promise.all([
        dirBytes(dirs.tradTemp),
        dirBytes(dirs.tradData),
        dirBytes(dirs.apiData),
      ]);
      peaks.tradTemp = Math.max(peaks.tradTemp, temp);
      peaks.tradData = Math.max(peaks.tradData, tradData - base.tradData);
      peaks.apiData = Math.max(peaks.apiData, apiData - base.apiData);
      peaks.samples++;
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
  })();
  return {
    async stop(): Promise<DiskPeaks> {
      running = false;
      await done;
      return peaks;
    },
  };
}

// ---------------------------------------------------------------------------------------------------
// The chart: grouped bars, each metric normalised to the traditional path (= 1).

interface Metric {
  label: string;
  unit: string;
  trad: number;
  dark: number;
  digits: number;
  /** Whether a bigger number is better (for the caption under the group). */
  higherBetter: boolean;
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Hand-written SVG: one group per metric, the traditional bar at 1.0 and darkroom's at its ratio. */
function chart(metrics: readonly Metric[], title: string): string {
  const W = 960;
  const H = 440;
  const left = 60;
  const top = 70;
  const plotH = 250;
  const groupW = (W - left - 20) / metrics.length;
  const barW = Math.min(48, groupW / 3.2);
  const maxRatio = Math.max(1.2, ...metrics.map((m) => (m.trad > 0 ? m.dark / m.trad : 0)));
  const yMax = Math.ceil(maxRatio * 5) / 5;
  const y = (r: number) => top + plotH - (r / yMax) * plotH;
  const colors = { trad: '#c0504d', dark: '#4f81bd' };
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    // The chart's text alternative, for screen readers (and Biome's a11y rule).
    `<title>${esc(title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="${W / 2}" y="44" text-anchor="middle" fill="#555">Each metric normalised to the traditional path (= 1.0); numbers on the bars are the measured values</text>`,
  ];
  for (let r = 0; r <= yMax + 1e-9; r += 0.2) {
    const yy = y(r).toFixed(1);
    out.push(
      `<line x1="${left}" y1="${yy}" x2="${W - 20}" y2="${yy}" stroke="${Math.abs(r - 1) < 1e-9 ? '#888' : '#e5e5e5'}"/>`,
      `<text x="${left - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#555">${r.toFixed(1)}</text>`,
    );
  }
  metrics.forEach((m, i) => {
    const cx = left + groupW * i + groupW / 2;
    const ratio = m.trad > 0 ? m.dark / m.trad : 0;
    const bars: [string, number, number, string][] = [
      ['trad', 1, m.trad, colors.trad],
      ['dark', ratio, m.dark, colors.dark],
    ];
    bars.forEach(([, r, value, color], j) => {
      const x = cx - barW - 2 + j * (barW + 4);
      const yy = y(r);
      const h = Math.max(0, top + plotH - yy);
      out.push(
        `<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${color}"/>`,
        `<text x="${(x + barW / 2).toFixed(1)}" y="${(yy - 4).toFixed(1)}" text-anchor="middle" font-size="11">${esc(fmt(value, m.digits))}</text>`,
      );
    });
    out.push(
      `<text x="${cx.toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle" font-weight="bold">${esc(m.label)}</text>`,
      `<text x="${cx.toFixed(1)}" y="${top + plotH + 33}" text-anchor="middle" fill="#555">${esc(m.unit)}</text>`,
      `<text x="${cx.toFixed(1)}" y="${top + plotH + 50}" text-anchor="middle">darkroom ×${esc(fmt(ratio, 3))}</text>`,
      `<text x="${cx.toFixed(1)}" y="${top + plotH + 64}" text-anchor="middle" fill="#777" font-size="11">${m.higherBetter ? 'higher' : 'lower'} is better</text>`,
    );
  });
  const ly = H - 22;
  out.push(
    `<rect x="${W / 2 - 230}" y="${ly - 10}" width="14" height="14" fill="${colors.trad}"/>`,
    `<text x="${W / 2 - 210}" y="${ly + 1}">traditional: multipart through the app server</text>`,
    `<rect x="${W / 2 + 60}" y="${ly - 10}" width="14" height="14" fill="${colors.dark}"/>`,
    `<text x="${W / 2 + 80}" y="${ly + 1}">darkroom: presigned PUT, bytes direct to S3</text>`,
    '</svg>',
  );
  return `${out.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  pinSelf(OTHER_CORE);
  const load0 = os.loadavg()[0];
  const workRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-upload-paths-'));
  const dirs = {
    tradTemp: path.join(workRoot, 'trad-tmp'),
    tradData: path.join(workRoot, 'trad-data'),
    photos: path.join(workRoot, 'photos'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d);
  let stack: Stack | undefined;
  let trad: Child | undefined;
  let bare: Child | undefined;
  const compiled: string[] = [];
  try {
    const photos = await loadPhotos(dirs.photos);
    // S3 and SQS share the load generator's core; each role has its own data dir, so that the API's
    // own disk use shows.
    stack = await startStack({
      roles: ['sqs', 's3', 'api'],
      dataDir: path.join(workRoot, 'darkroom'),
      dataDirPerRole: true,
      pin: { sqs: OTHER_CORE, s3: OTHER_CORE, api: API_CORE },
      env: {
        DARKROOM_HOST: '127.0.0.1',
        DARKROOM_S3_BUCKET: BUCKET,
        DARKROOM_S3_REGION: REGION,
        DARKROOM_S3_ACCESS_KEY_ID: ACCESS_KEY_ID,
        DARKROOM_S3_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
        // No worker runs, so every image stays pending: lift the per-owner limits out of the way.
        DARKROOM_UPLOADS_PER_MINUTE: '1000000',
        DARKROOM_MAX_PENDING_UPLOADS: '1000000',
        DARKROOM_QUOTA_BYTES: String(1024 ** 4),
      },
    });
    const [sqs, s3, api] = [stack.child('sqs'), stack.child('s3'), stack.child('api')];
    compiled.push(await compileServer('traditional-server'), await compileServer('bare-server'));
    trad = await spawnServer(
      [compiled[0]!],
      {
        ...stack.env,
        S3_ENDPOINT: s3.url,
        S3_BUCKET: BUCKET,
        S3_REGION: REGION,
        JWT_SECRET: BENCH_JWT_SECRET,
        TEMP_DIR: dirs.tradTemp,
        DB_FILE: path.join(dirs.tradData, 'app.sqlite'),
      },
      listeningPort,
      API_CORE,
    );
    const idleRss = { trad: statusMiB(trad.proc.pid, 'VmRSS'), api: statusMiB(api.proc.pid, 'VmRSS') };

    // One user per client, as 50 people uploading at once would be.
    const tokens = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => mintToken(`bench-user-${i}`)));
    const pids = {
      trad: { api: trad.proc.pid, s3: s3.proc.pid, sqs: sqs.proc.pid },
      dark: { api: api.proc.pid, s3: s3.proc.pid, sqs: sqs.proc.pid },
      floor: { api: undefined as number | undefined, s3: s3.proc.pid, sqs: sqs.proc.pid },
    };
    const upTrad = traditionalUploader(trad.url);
    const upDark = darkroomUploader(api.url);
    const say = (s: string) => process.stdout.write(`${s}\n`);
    const brief = (name: string, p: Phase) =>
      say(
        `${name}: ${p.uploads} uploads in ${fmt(p.wallS, 1)} s (${fmt(p.uploads / p.wallS, 1)}/s), ` +
          `API CPU ${fmt(p.apiCpuS, 2)} s, errors ${p.errors}${p.firstError ? ` (${p.firstError})` : ''}`,
      );

    // Warm both up, then traditional, darkroom, traditional (halves), so drift hits both.
    brief('warm-up traditional', await load(upTrad, photos, tokens, WARMUP_S, pids.trad));
    brief('warm-up darkroom', await load(upDark, photos, tokens, WARMUP_S, pids.dark));
    const intents = await presignedUrls(api.url, photos, tokens);
    // Its answer is as long as darkroom's intent answers were.
    bare = await spawnServer(
      [compiled[1]!],
      { ...stack.env, RESPONSE_BYTES: String(intents.answerBytes) },
      listeningPort,
      API_CORE,
    );
    const upFloor = floorUploader(bare.url, intents.urls);
    pids.floor = { api: bare.proc.pid, s3: s3.proc.pid, sqs: sqs.proc.pid };
    brief('warm-up floor', await load(upFloor, photos, tokens, WARMUP_S, pids.floor));
    // The same request back to back, after a first second to warm up. Before the measured phases: it also
    // brings the API's code to the optimised state a long-running server is in (V8 optimises a function
    // after enough calls, not enough seconds, and a paced phase makes only a thousand or so).
    const loadedUs = { bare: 0, dark: 0 };
    for (const [name, url, pid] of [
      ['bare', bare.url, bare.proc.pid],
      ['dark', api.url, api.proc.pid],
    ] as const) {
      await burstCpuUs(url, pid, tokens, 1);
      loadedUs[name] = await burstCpuUs(url, pid, tokens, 3);
    }
    say(
      `back to back, 32 in flight: bare route ${fmt(loadedUs.bare)} µs, darkroom ${fmt(loadedUs.dark)} µs per intent`,
    );
    const sampler = sampleDisk({ ...dirs, apiData: stack.dataDirOf('api') });
    const t1 = await load(upTrad, photos, tokens, DURATION_S / 2, pids.trad);
    brief('traditional (1/2)', t1);
    const dark = await load(upDark, photos, tokens, DURATION_S, pids.dark);
    brief('darkroom', dark);
    const floor = await load(upFloor, photos, tokens, DURATION_S / 2, pids.floor);
    brief('floor (bare route)', floor);
    const t2 = await load(upTrad, photos, tokens, DURATION_S / 2, pids.trad);
    brief('traditional (2/2)', t2);
    const disk = await sampler.stop();
    const tradP = merge(t1, t2);
    const peakRss = { trad: statusMiB(trad.proc.pid, 'VmHWM'), api: statusMiB(api.proc.pid, 'VmHWM') };
    const s3Objects = await dirBytes(stack.dataDirOf('s3'));

    const per100 = (p: Phase, cpu: number) => (cpu / p.uploads) * 100;
    const rate = (p: Phase) => p.uploads / p.wallS;
    const busy = (cpuS: number, p: Phase) => `${fmt((cpuS / p.wallS) * 100)} %`;
    const others = (p: Phase) => p.s3CpuS + p.sqsCpuS + p.clientCpuS;
    const MiB = 1024 * 1024;
    const growth = {
      trad: (peakRss.trad ?? Number.NaN) - (idleRss.trad ?? Number.NaN),
      api: (peakRss.api ?? Number.NaN) - (idleRss.api ?? Number.NaN),
    };
    const row = (
      name: string,
      p: Phase,
      rss: { idle?: number; peak?: number; growth: number },
      temp: number,
      data: number,
    ) =>
      `| ${name} | ${fmt(per100(p, p.apiCpuS), 3)} | ${fmt(100 / per100(p, p.apiCpuS))} | ${fmt(rss.idle)} → ${fmt(rss.peak)} | ${fmt(rss.growth)} | ${fmt(temp / MiB, 1)} | ${fmt(data / MiB, 2)} | ${fmt(rate(p), 1)} | ${fmt(percentile(p.latencies, 50))} | ${fmt(percentile(p.latencies, 99))} | ${p.uploads} | ${p.errors} |`;
    const ratio = (d: number, t: number) => (t > 0 ? fmt(d / t, 3) : 'n/a');
    const metrics: Metric[] = [
      {
        label: 'API CPU',
        unit: 's / 100 uploads',
        trad: per100(tradP, tradP.apiCpuS),
        dark: per100(dark, dark.apiCpuS),
        digits: 2,
        higherBetter: false,
      },
      {
        label: 'API RSS growth',
        unit: 'MiB, peak − idle',
        trad: growth.trad,
        dark: growth.api,
        digits: 0,
        higherBetter: false,
      },
      {
        label: 'API peak RSS',
        unit: 'MiB (VmHWM)',
        trad: peakRss.trad ?? Number.NaN,
        dark: peakRss.api ?? Number.NaN,
        digits: 0,
        higherBetter: false,
      },
      {
        label: 'API temp disk',
        unit: 'peak MiB',
        trad: disk.tradTemp / MiB,
        dark: 0,
        digits: 1,
        higherBetter: false,
      },
      {
        label: 'Throughput',
        unit: 'uploads/s',
        trad: rate(tradP),
        dark: rate(dark),
        digits: 1,
        higherBetter: true,
      },
      {
        label: 'Latency p50',
        unit: 'ms',
        trad: percentile(tradP.latencies, 50),
        dark: percentile(dark.latencies, 50),
        digits: 0,
        higherBetter: false,
      },
      {
        label: 'Latency p99',
        unit: 'ms',
        trad: percentile(tradP.latencies, 99),
        dark: percentile(dark.latencies, 99),
        digits: 0,
        higherBetter: false,
      },
    ];
    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    const sizes = photos
      .map(
        (p) =>
          `\`${p.name}\` ${fmt(p.source.bytes / 1e6, 2)} MB → ${fmt(p.bytes.length / 1e6, 2)} MB (×${p.source.scale}, ${p.source.width}×${p.source.height})`,
      )
      .join(', ');
    const meanMB = photos.reduce((a, p) => a + p.bytes.length, 0) / photos.length / 1e6;
    await fsp.writeFile(
      SVG_FILE,
      chart(
        metrics,
        `Upload paths: ${CLIENTS} clients, ${DURATION_S} s each, ${photos.length} phone-sized JPEGs from real photos (mean ${fmt(meanMB, 1)} MB)`,
      ),
    );
    const reproduce = `${DURATION_S === 60 ? '' : `BENCH_DURATION=${DURATION_S} `}npm run bench:upload-paths`;
    const section = `${SECTION}

Run ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}; ${os.cpus().length} cores (${cpu}), Linux ${os.release()}, Node ${process.version}. ${CLIENTS} concurrent clients (one user each, keep-alive), ${DURATION_S} s per path after ${WARMUP_S} s of warm-up each, in the same run: traditional ${DURATION_S / 2} s, darkroom ${DURATION_S} s, the floor ${DURATION_S / 2} s, traditional ${DURATION_S / 2} s, so drift hits both. Photos: phone-sized (~5 MB) JPEGs derived at the start of the run, into a temp dir, from the ${photos.length} largest real photos in \`testdata/\` (mean ${fmt(meanMB, 2)} MB: ${sizes}): each is resampled with Lanczos by the factor shown and encoded at q95 without chroma subsampling (a phone's high-quality setting), EXIF kept; the factor starts at 1.2 and is corrected twice towards 5 MB (\`phoneSized\` in \`bench/upload-paths.ts\`; deterministic for a given sharp build). Each client cycles through the photos.

Same storage for both: one \`darkroom s3\` (SigV4, MD5 + fsync per object, ObjectCreated events) and one \`darkroom sqs\`, spawned and pinned to core ${OTHER_CORE} with the load generator (this script). The process under test is pinned alone to core ${API_CORE}. Both paths store each photo as \`uploads/<uuid>\` in the same bucket, so S3 and SQS do the same work either way. No worker runs, because processing is not part of the claim.

- **traditional** (\`bench/traditional-server.ts\`, its own process, compiled to plain JS so that no tsx loader thread adds to its RSS): Fastify \`POST /upload\`. It verifies an HS256 JWT with jose (the same tokens as darkroom), parses multipart/form-data with busboy (@fastify/multipart is not installed), streams the file part to a temp file, sends that file to the embedded S3 with \`PutObject\` (stream + ContentLength, AWS SDK v3, \`forcePathStyle\`, default checksums), deletes the temp file, inserts one row into SQLite (better-sqlite3, WAL, \`synchronous = NORMAL\`, as darkroom's SQLite) and answers JSON. The client sends one multipart POST (a text field and the file).
- **floor** (\`bench/bare-server.ts\`, compiled the same way, pinned as the others): the client sends the same \`POST /v1/uploads\` to a bare Fastify route that answers a constant JSON as long as darkroom's answers, then PUTs the bytes with a URL darkroom presigned before the phase. What any API would cost on this path at this pace.
- **darkroom** (\`darkroom api\` from the compiled \`packages/server/dist\`, its own process, logging at \`warn\`; per-owner limits are lifted because no worker ever finishes the images): \`POST /v1/uploads\` (JWT, validation, limits, SQLite insert, presigned PUT URL), then the client PUTs the bytes to that URL on the embedded S3. Latency counts both requests.

| path | API CPU s / 100 uploads | uploads/s one API core could take (100 ÷ CPU) | API RSS MiB, idle → peak | API RSS growth MiB | API temp disk, peak MiB | API data dir growth, peak MiB | uploads/s (measured) | p50 ms | p99 ms | uploads | errors |
|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|
${row('traditional (multipart through the app server)', tradP, { idle: idleRss.trad, peak: peakRss.trad, growth: growth.trad }, disk.tradTemp, disk.tradData)}
${row('darkroom (presigned PUT, bytes direct to S3)', dark, { idle: idleRss.api, peak: peakRss.api, growth: growth.api }, 0, disk.apiData)}
${row('floor: a bare Fastify route in place of the API, then the same PUT', floor, { growth: Number.NaN }, 0, 0)}

Ratios darkroom / traditional: API CPU per upload **${ratio(per100(dark, dark.apiCpuS), per100(tradP, tradP.apiCpuS))}**, API RSS growth under load **${ratio(growth.api, growth.trad)}**, API peak RSS **${ratio(peakRss.api ?? Number.NaN, peakRss.trad ?? Number.NaN)}**, API temp disk **0** (${fmt(disk.tradTemp / MiB, 1)} MiB → none), measured uploads/s **${ratio(rate(dark), rate(tradP))}**, p50 **${ratio(percentile(dark.latencies, 50), percentile(tradP.latencies, 50))}**, p99 **${ratio(percentile(dark.latencies, 99), percentile(tradP.latencies, 99))}**.

The floor: a bare route's CPU per upload / traditional **${ratio(per100(floor, floor.apiCpuS), per100(tradP, tradP.apiCpuS))}**; darkroom / the bare route **${ratio(per100(dark, dark.apiCpuS), per100(floor, floor.apiCpuS))}**. At ${fmt(rate(floor), 0)} uploads/s, one small request costs the bare route ${fmt((floor.apiCpuS / floor.uploads) * 1e6)} µs of CPU here, against ${fmt(loadedUs.bare)} µs when the same POSTs come back to back (32 in flight, 3 s, after a second of warm-up, before the measured phases: these bursts also warm up each server's code as a long-running server's is); darkroom's API spends ${fmt((dark.apiCpuS / dark.uploads) * 1e6)} µs per upload at this pace and ${fmt(loadedUs.dark)} µs back to back. At this pace the process wakes for each request and runs it with cold caches, so whatever an API does per request costs several times what it costs under load, and the bare route's share of the traditional server's CPU is the lowest ratio any API can reach here.

![Upload paths chart](upload-paths.svg)

Reading it: the API-side numbers (CPU per upload, RSS growth, temp disk) are what the claim is about. The measured uploads/s and latencies are end to end, and storage limits them on this machine. Core ${API_CORE} (the API alone) was ${busy(tradP.apiCpuS, tradP)} busy on the traditional path and ${busy(dark.apiCpuS, dark)} on darkroom's. Core ${OTHER_CORE} (S3 + SQS + the load generator) was ${busy(others(tradP), tradP)} and ${busy(others(dark), dark)} busy. The "one API core could take" column shows how many uploads per second each API could answer if storage kept up. Darkroom's peak RSS is mostly its start-up footprint (it loads the whole API: OpenAPI, metrics, the event hub…), which does not grow with the bytes in flight. The traditional server starts smaller and grows with the uploads in flight (the stream buffers of up to 50 request bodies, temp-file writes and S3 PUTs).

How it was measured: CPU is the user + system time of the process under test, read from \`/proc/<pid>/stat\` over the measured phases (traditional halves: ${fmt(per100(t1, t1.apiCpuS), 3)} and ${fmt(per100(t2, t2.apiCpuS), 3)} s per 100 uploads). Uploads still in flight at the deadline finish and count. Other sessions share this machine (1-minute load average ${fmt(load0, 1)} before the run, ${fmt(os.loadavg()[0], 1)} after), so CPU seconds per upload, which count only the process's own time, are the robust figure; rates and latencies move with the neighbours. Peak RSS is \`VmHWM\` over the whole run, warm-up included; idle is \`VmRSS\` right after start-up. Disk was sampled every ${SAMPLE_MS} ms (${disk.samples} samples) over the measured phases. "Temp disk" is the bytes in the traditional server's temp dir; darkroom's API has no temp files because it never receives the bytes. "Data dir growth" is each API's own SQLite (+ WAL) directory over its size when sampling began; that directory is where darkroom's API writes anything at all. For context, outside the API: the embedded S3 process used ${fmt(per100(tradP, tradP.s3CpuS), 2)} CPU s per 100 uploads on the traditional path and ${fmt(per100(dark, dark.s3CpuS), 2)} on darkroom's (the SDK's PutObject sends aws-chunked bodies with a checksum trailer; the presigned PUT is a plain body). The SQS server used ${fmt(per100(tradP, tradP.sqsCpuS), 2)} and ${fmt(per100(dark, dark.sqsCpuS), 2)}, and the load generator ${fmt(per100(tradP, tradP.clientCpuS), 2)} and ${fmt(per100(dark, dark.clientCpuS), 2)}. S3 held ${fmt(s3Objects / 1024 ** 3, 1)} GiB of objects at the end.${tradP.errors + dark.errors > 0 ? ` **Errors: ${tradP.errors + dark.errors}** (first: ${tradP.firstError ?? dark.firstError}).` : ''}

Reproduce: \`${reproduce}\`. \`BENCH_DURATION=10\` gives a short trial; the default is 60 s per path. The run writes this section and \`bench/upload-paths.svg\`.
`;
    await writeResults(SECTION, section);
    say(`\n${section}`);
  } finally {
    await stopChild(trad);
    await stopChild(bare);
    await stack?.stop();
    agent.destroy();
    for (const file of compiled) await fsp.rm(file, { force: true });
    await fsp.rm(workRoot, { recursive: true, force: true });
  }
}

await main();
