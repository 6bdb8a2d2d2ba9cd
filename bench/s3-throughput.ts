/**
 * Embedded S3 throughput: PUT and GET of a 256 MiB object through `darkroom s3` (spawned, so its RSS
 * is its own), (a) with the AWS SDK v3 and (b) with raw presigned URLs over node:http, against a
 * baseline in the same run: a trivial node:http server that streams bodies to files on the same disk,
 * with and without fsync before close (the embedded server fsyncs every object before publishing it).
 *
 * Run: npm run bench:s3   (writes the section "Embedded S3 throughput" of bench/RESULTS.md)
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  benchDir,
  type Child,
  listeningPort,
  repoRoot,
  spawnServer,
  statusMiB,
  stopChild,
} from './lib/processes.ts';
import { writeResults } from './lib/results.ts';
import { type Stack, startStack } from './lib/stack.ts';

const MiB = 1024 * 1024;
const SIZE = 256 * MiB;
const REPS = 3;
const BUCKET = 'bench';
const KEY = 'big/object.bin';
const REGION = 'us-east-1';
const CREDENTIALS = {
  accessKeyId: 'AKIDBENCHDARKROOM',
  secretAccessKey: 'bench-secret-key-0123456789abcdef',
};

const SECTION = '## Embedded S3 throughput (256 MiB PUT/GET)';

// ---------------------------------------------------------------------------------------------------
// Baseline server (this same file, spawned with --baseline-server <dir>): PUT /fsync/<name> and
// PUT /nofsync/<name> stream the body to a temp file and rename it into place, as the embedded server
// does; GET /<mode>/<name> streams the file back with fs.createReadStream.

async function runBaselineServer(dir: string): Promise<void> {
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    const [, mode, name] = (req.url ?? '/').split('/');
    if ((mode !== 'fsync' && mode !== 'nofsync') || !name) {
      res.writeHead(404, { 'content-length': 0 }).end();
      return;
    }
    const file = path.join(dir, `${mode}-${name}`);
    if (req.method === 'PUT') {
      const temp = `${file}.tmp`;
      // flush: true = fsync before close, exactly what the embedded server's receive path asks for.
      pipeline(req, fs.createWriteStream(temp, { flush: mode === 'fsync' }))
        .then(() => fsp.rename(temp, file))
        .then(
          () => res.writeHead(200, { 'content-length': 0 }).end(),
          () => res.writeHead(500, { 'content-length': 0 }).end(),
        );
    } else if (req.method === 'GET') {
      fs.stat(file, (err, st) => {
        if (err) {
          res.writeHead(404, { 'content-length': 0 }).end();
          return;
        }
        res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
        pipeline(fs.createReadStream(file), res).catch(() => res.destroy());
      });
    } else {
      res.writeHead(405, { 'content-length': 0 }).end();
    }
  });
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    if (address && typeof address === 'object') process.stdout.write(`listening ${address.port}\n`);
  });
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}

// ---------------------------------------------------------------------------------------------------
// Child processes and their memory.

function resetPeak(pid: number | undefined): boolean {
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------------
// Clients.

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** Streams `file` as the body of a PUT; resolves with the status once the response is in. */
function httpPut(url: string, file: string, headers: Record<string, string | number> = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'PUT',
      agent,
      headers: { 'content-length': SIZE, ...headers },
    });
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        body += d;
      });
      res.once('end', () => {
        if (res.statusCode === 200) resolve();
        else reject(new Error(`PUT ${url} → ${res.statusCode}: ${body}`));
      });
    });
    req.once('error', reject);
    fs.createReadStream(file).pipe(req);
  });
}

/** GETs `url` into `dest`. */
function httpGet(url: string, dest: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url} → ${res.statusCode}`));
        return;
      }
      pipeline(res, fs.createWriteStream(dest)).then(resolve, reject);
    });
    req.once('error', reject);
  });
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(fs.createReadStream(file), hash);
  return hash.digest('hex');
}

/** Writes SIZE pseudo-random bytes (incompressible, nothing to deduplicate) to `file`. */
async function makeSource(file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  const chunk = Buffer.alloc(MiB);
  let x = 0x9e3779b9;
  for (let written = 0; written < SIZE; written += MiB) {
    for (let i = 0; i < MiB; i += 4) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      chunk.writeUInt32LE(x >>> 0, i);
    }
    if (!out.write(Buffer.from(chunk)))
      await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

// ---------------------------------------------------------------------------------------------------
// Measurement.

interface Method {
  name: string;
  note: string;
  server: 'baseline' | 's3';
  put(): Promise<void>;
  get(dest: string): Promise<void>;
}

interface Samples {
  put: number[];
  get: number[];
  /** Peak RSS of the server process during each transfer, MiB. */
  peak: number[];
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? 'n/a' : n.toFixed(digits);

async function timed(fn: () => Promise<void>): Promise<number> {
  const start = performance.now();
  await fn();
  return SIZE / MiB / ((performance.now() - start) / 1000);
}

async function main(): Promise<void> {
  await fsp.mkdir(path.join(benchDir, '.tmp'), { recursive: true });
  const root = await fsp.mkdtemp(path.join(benchDir, '.tmp', 's3-throughput-'));
  const source = path.join(root, 'source.bin');
  const download = path.join(root, 'download.bin');
  const baselineDir = path.join(root, 'baseline');
  const s3DataDir = path.join(root, 's3-data');
  await fsp.mkdir(baselineDir);
  let baseline: Child | undefined;
  let stack: Stack | undefined;
  const clients: S3Client[] = [];
  try {
    process.stdout.write(
      `Writing a ${SIZE / MiB} MiB source file under ${path.relative(repoRoot, root)} …\n`,
    );
    await makeSource(source);
    const sourceHash = await sha256File(source);

    const quietEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' };
    baseline = await spawnServer(
      ['--import', 'tsx', fileURLToPath(import.meta.url), '--baseline-server', baselineDir],
      quietEnv,
      listeningPort,
    );
    stack = await startStack({
      roles: ['s3'],
      dataDir: s3DataDir,
      env: {
        NODE_ENV: 'production',
        DARKROOM_HOST: '127.0.0.1',
        DARKROOM_S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
        DARKROOM_S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
        DARKROOM_S3_REGION: REGION,
      },
    });
    const s3 = stack.child('s3');
    const s3Pid = s3.proc.pid;
    const baselinePid = baseline.proc.pid;
    const idleRss = statusMiB(s3Pid, 'VmRSS');

    const sdk = (overrides: Partial<S3ClientConfig> = {}) => {
      const c = new S3Client({
        endpoint: s3.url,
        region: REGION,
        forcePathStyle: true,
        credentials: CREDENTIALS,
        ...overrides,
      });
      clients.push(c);
      return c;
    };
    const client = sdk();
    // Presigned URLs carry no checksum of an empty body only when checksums are WHEN_REQUIRED.
    const presigner = sdk({ requestChecksumCalculation: 'WHEN_REQUIRED' });
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));

    // What the SDK actually put on the wire, for the report (payload signing mode, aws-chunked or not).
    let sdkWire = '';
    client.middlewareStack.add(
      (next) => async (args) => {
        const headers = (args.request as { headers?: Record<string, string> }).headers ?? {};
        if (
          headers['x-amz-content-sha256'] &&
          !sdkWire &&
          (args.request as { method?: string }).method === 'PUT'
        ) {
          sdkWire = `x-amz-content-sha256: ${headers['x-amz-content-sha256']}${
            headers['content-encoding'] ? `, content-encoding: ${headers['content-encoding']}` : ''
          }${headers['x-amz-trailer'] ? `, x-amz-trailer: ${headers['x-amz-trailer']}` : ''}`;
        }
        return next(args);
      },
      { step: 'deserialize', name: 'benchWireRecorder' },
    );

    const baselineUrl = baseline.url;
    const methods: Method[] = [
      {
        name: 'baseline node:http, fsync before close',
        note: 'same durability work as the embedded server',
        server: 'baseline',
        put: () => httpPut(`${baselineUrl}/fsync/object.bin`, source),
        get: (dest) => httpGet(`${baselineUrl}/fsync/object.bin`, dest),
      },
      {
        name: 'baseline node:http, no fsync',
        note: 'page cache only',
        server: 'baseline',
        put: () => httpPut(`${baselineUrl}/nofsync/object.bin`, source),
        get: (dest) => httpGet(`${baselineUrl}/nofsync/object.bin`, dest),
      },
      {
        name: 'darkroom s3, AWS SDK v3',
        note: 'PutObject (file stream + ContentLength), GetObject streamed to a file; SDK default checksums',
        server: 's3',
        put: async () => {
          await client.send(
            new PutObjectCommand({
              Bucket: BUCKET,
              Key: KEY,
              Body: fs.createReadStream(source),
              ContentLength: SIZE,
            }),
          );
        },
        get: async (dest) => {
          const res = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }));
          await pipeline(res.Body as Readable, fs.createWriteStream(dest));
        },
      },
      {
        name: 'darkroom s3, presigned URL + node:http',
        note: 'getSignedUrl, then the same node:http client as the baseline',
        server: 's3',
        put: async () => {
          const url = await getSignedUrl(
            presigner,
            new PutObjectCommand({ Bucket: BUCKET, Key: KEY, ContentLength: SIZE }),
            { expiresIn: 600 },
          );
          await httpPut(url, source);
        },
        get: async (dest) => {
          const url = await getSignedUrl(presigner, new GetObjectCommand({ Bucket: BUCKET, Key: KEY }), {
            expiresIn: 600,
          });
          await httpGet(url, dest);
        },
      },
    ];

    const results = new Map<string, Samples>(methods.map((m) => [m.name, { put: [], get: [], peak: [] }]));
    let peakResettable = true;
    // Repetitions are interleaved (rep 1 of every method, then rep 2, …) so drift hits all alike.
    for (let rep = 0; rep < REPS; rep++) {
      for (const m of methods) {
        const pid = m.server === 's3' ? s3Pid : baselinePid;
        const samples = results.get(m.name)!;
        await fsp.rm(download, { force: true });
        peakResettable = resetPeak(pid) && peakResettable;
        const put = await timed(() => m.put());
        const get = await timed(() => m.get(download));
        samples.put.push(put);
        samples.get.push(get);
        samples.peak.push(statusMiB(pid, 'VmHWM') ?? Number.NaN);
        const size = (await fsp.stat(download)).size;
        if (size !== SIZE) throw new Error(`${m.name}: downloaded ${size} bytes, expected ${SIZE}`);
        // Once per method, outside the timings: the bytes that came back are the bytes that went in.
        if (rep === 0 && (await sha256File(download)) !== sourceHash) {
          throw new Error(`${m.name}: downloaded bytes differ from the source`);
        }
        process.stdout.write(
          `rep ${rep + 1}/${REPS}  ${m.name.padEnd(42)} PUT ${fmt(put).padStart(5)} MiB/s  GET ${fmt(get).padStart(5)} MiB/s  peak RSS ${fmt(samples.peak.at(-1))} MiB\n`,
        );
      }
    }
    const finalRss = statusMiB(s3Pid, 'VmRSS');
    const lifetimePeak = peakResettable ? undefined : statusMiB(s3Pid, 'VmHWM');

    const med = (name: string) => {
      const s = results.get(name)!;
      return { put: median(s.put), get: median(s.get), peak: Math.max(...s.peak) };
    };
    const [bFsync, bNoFsync] = [med(methods[0]!.name), med(methods[1]!.name)];
    const baselineGet = Math.max(bFsync.get, bNoFsync.get);
    const rows = methods.map((m) => {
      const r = med(m.name);
      return `| ${m.name} | ${fmt(r.put)} | ${fmt(r.put / bFsync.put, 2)}× | ${fmt(r.put / bNoFsync.put, 2)}× | ${fmt(r.get)} | ${fmt(r.get / baselineGet, 2)}× | ${fmt(r.peak)} MiB |`;
    });
    const samplesText = methods
      .map((m) => {
        const s = results.get(m.name)!;
        return `- ${m.name} (${m.note}): PUT ${s.put.map((x) => fmt(x)).join(' / ')}; GET ${s.get.map((x) => fmt(x)).join(' / ')} MiB/s`;
      })
      .join('\n');
    const cpu = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
    const section = `${SECTION}

Run ${new Date().toISOString().replace(/\.\d{3}Z$/, 'Z')}; ${os.cpus().length} cores (${cpu}), ${Math.round(os.totalmem() / 1024 ** 3)} GiB RAM, Linux ${os.release()}, Node ${process.version}. Client and servers on the same machine over loopback (127.0.0.1); every file (source, server data, baseline files, downloads) on the same disk under \`bench/.tmp\`. The page cache is warm: these numbers are CPU- and fsync-bound, not a disk benchmark.

One ${SIZE / MiB} MiB object of incompressible bytes. Each cell is the median of ${REPS} runs (interleaved across methods); MiB/s is wall time from the first byte sent to the response (PUT) or to the last byte written to the local file (GET). The embedded server runs as its own process (\`darkroom s3\`, spawned); the baseline is a trivial node:http server, also its own process, that streams a PUT body to a temp file and renames it into place (with \`fs.createWriteStream(…, { flush: true })\`, i.e. fsync before close, in the "fsync" variant, which is what the embedded server does before publishing an object) and serves GET with \`fs.createReadStream\`. Every download is checked for size, and the first of each method by SHA-256 against the source.

| Path | PUT MiB/s | PUT ÷ baseline (fsync) | PUT ÷ baseline (no fsync) | GET MiB/s | GET ÷ baseline | server peak RSS during the transfer |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${rows.join('\n')}

- "GET ÷ baseline" divides by the faster of the two baseline GETs (${fmt(baselineGet)} MiB/s); GET does the same work in both baseline variants.
- Server peak RSS is VmHWM from \`/proc/<pid>/status\` of the server process, ${peakResettable ? 'reset (`/proc/<pid>/clear_refs` = 5) before each PUT+GET pair' : `not resettable here, so it is the process's lifetime peak (${fmt(lifetimePeak)} MiB)`}, the largest over the ${REPS} runs. The embedded server's RSS was ${fmt(idleRss)} MiB idle after start-up and ${fmt(finalRss)} MiB at the end: memory stays flat while ${SIZE / MiB} MiB objects stream through.
- The SDK sent its PUT as ${sdkWire ? `\`${sdkWire}\`` : 'an ordinary request'} (its defaults: a CRC32 checksum computed while streaming, sent as a trailer; the server verifies it and stores it).

Raw samples (MiB/s, in run order):

${samplesText}

Reproduce: \`npm run bench:s3\`
`;
    await writeResults(SECTION, section);
    process.stdout.write(
      `\n${section}\nWrote ${path.relative(repoRoot, path.join(benchDir, 'RESULTS.md'))}\n`,
    );
  } finally {
    for (const c of clients) c.destroy();
    agent.destroy();
    await stack?.stop();
    await stopChild(baseline);
    await fsp.rm(root, { recursive: true, force: true });
    // Leave bench/.tmp itself only if something else is in it.
    await fsp.rmdir(path.join(benchDir, '.tmp')).catch(() => {});
  }
}

if (process.argv[2] === '--baseline-server') {
  await runBaselineServer(process.argv[3] ?? os.tmpdir());
} else {
  await main();
}
