/**
 * Render starvation (issue 18.5): the latency of a small presigned PUT to the embedded S3 server while
 * `darkroom start` renders first-time transforms. Each level keeps N render loops going (each asks for a
 * transform width nobody asked for before, so every request is a first render of the 22 MP photo's
 * 2560 px variant), waits for them to get going, then times SAMPLES presigned PUTs of a ~6 KB JPEG one
 * after another (a fresh intent each, from its own owner so no upload limit applies; only the PUT is
 * timed). Renders that are refused (503, when the server sheds them) are counted and retried after a pause.
 *
 * Run: npm run bench:render-starvation   (BENCH_LEVELS=0,6,20 and BENCH_SAMPLES=8 are the defaults;
 * BENCH_LABEL=… writes a separate section, e.g. for a run of an older commit; DARKROOM_* and
 * UV_THREADPOOL_SIZE in the environment are passed to the server)
 */

import fsp from 'node:fs/promises';
import os from 'node:os';
import { signTransformPath } from '@darkroom/server/parts';
import { testImage } from '@darkroom/testdata';
import sharp from 'sharp';
import { writeResults } from './lib/results.ts';
import { startStack } from './lib/stack.ts';
import { percentile } from './lib/stats.ts';

const LABEL = process.env.BENCH_LABEL;
// The label goes before the colon: no heading may begin with another one (writeResults finds sections by prefix).
const SECTION = `## Render starvation${LABEL ? `, ${LABEL}` : ''}: a presigned PUT during first transform renders`;
const LEVELS = (process.env.BENCH_LEVELS ?? '0,6,20').split(',').map(Number);
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 8);
/** AVIF: the costliest encoding a viewer's Accept (or `f_avif`) can ask for, as browsers do by default. */
const FORMAT = process.env.BENCH_FORMAT ?? 'avif';
const TRANSFORM_SECRET = 'bench-transform-secret-0123456789';
const PHOTO = testImage('photos/canon-eos-5d-mark-iii_22mp.jpg');
/** Lets the render loops fill the server before the first PUT is timed. */
const RAMP_MS = 1500;
/** A PUT slower than this is recorded as this (and the run says so): the bench must end. */
const PUT_TIMEOUT_MS = 180_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Level {
  renders: number;
  puts: number[];
  timedOut: number;
  /** PUTs that failed (the connection closed under them), with why. */
  putErrors: string[];
  rendered: number;
  refused: number;
  failed: number;
  /** Why render requests failed, with how often. */
  failures: Map<string, number>;
  renderMs: number[];
}

async function main(): Promise<void> {
  const passed = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => k.startsWith('DARKROOM_') || k === 'UV_THREADPOOL_SIZE'),
  );
  const stack = await startStack({
    roles: ['start'],
    env: { ...passed, DARKROOM_TRANSFORM_SECRET: TRANSFORM_SECRET, DARKROOM_LOG_LEVEL: 'warn' },
  });
  const api = stack.api;
  try {
    const tokenOf = (sub: string) => stack.token(sub);
    /** POST /v1/uploads as `owner`; the presigned URL and headers. */
    const intent = async (owner: string, bytes: Buffer) => {
      const res = await fetch(`${api}/v1/uploads`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await tokenOf(owner)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ filename: 'p.jpg', contentType: 'image/jpeg', size: bytes.length }),
      });
      if (res.status !== 201) throw new Error(`POST /v1/uploads: ${res.status} ${await res.text()}`);
      return (await res.json()) as {
        image: { id: string };
        upload: { url: string; headers: Record<string, string> };
      };
    };

    // The render source: the 22 MP photo, developed by the worker in the same process.
    const photo = await fsp.readFile(PHOTO);
    const big = await intent('bench-source', photo);
    const put = await fetch(big.upload.url, {
      method: 'PUT',
      body: new Uint8Array(photo),
      headers: big.upload.headers,
    });
    if (put.status !== 200) throw new Error(`PUT of the photo: ${put.status}`);
    const id = big.image.id;
    const sourceAuth = { authorization: `Bearer ${await tokenOf('bench-source')}` };
    for (let status = ''; status !== 'ready'; ) {
      await sleep(250);
      status = (
        (await (await fetch(`${api}/v1/images/${id}`, { headers: sourceAuth })).json()) as {
          status: string;
        }
      ).status;
      if (status === 'failed') throw new Error('the source photo failed to develop');
    }

    // The small upload: a real JPEG near 6 KB.
    const small = await sharp(photo).resize({ width: 180 }).jpeg({ quality: 80 }).toBuffer();

    let width = 1200;
    let putNo = 0;
    const levels: Level[] = [];
    for (const renders of LEVELS) {
      const level: Level = {
        renders,
        puts: [],
        timedOut: 0,
        putErrors: [],
        rendered: 0,
        refused: 0,
        failed: 0,
        failures: new Map(),
        renderMs: [],
      };
      let running = true;
      const loop = async () => {
        while (running) {
          // A width no request asked for before: a first render every time.
          const options = `w_${width++},f_${FORMAT}`;
          const t0 = performance.now();
          let why = '';
          const res = await fetch(`${api}${signTransformPath(TRANSFORM_SECRET, id, options)}`).catch(
            (err: unknown) => {
              why = err instanceof Error ? `${err.message}: ${String(err.cause)}` : String(err);
              return undefined;
            },
          );
          await res?.arrayBuffer().catch((err: unknown) => {
            why = `body: ${String(err)}`;
          });
          if (res?.status === 200) {
            level.rendered++;
            level.renderMs.push(performance.now() - t0);
          } else if (res?.status === 503) {
            level.refused++;
            await sleep(1000 * Number(res.headers.get('retry-after') ?? 1));
          } else {
            level.failed++;
            why ||= `HTTP ${res?.status}`;
            level.failures.set(why, (level.failures.get(why) ?? 0) + 1);
            await sleep(200);
          }
        }
      };
      const loops = Array.from({ length: renders }, loop);
      if (renders > 0) await sleep(RAMP_MS);
      for (let i = 0; i < SAMPLES; i++) {
        const up = await intent(`bench-put-${putNo++}`, small);
        const t0 = performance.now();
        const res = await fetch(up.upload.url, {
          method: 'PUT',
          body: new Uint8Array(small),
          headers: up.upload.headers,
          signal: AbortSignal.timeout(PUT_TIMEOUT_MS),
        }).catch((err: unknown) => {
          if (err instanceof Error && err.name === 'TimeoutError') level.timedOut++;
          else
            level.putErrors.push(err instanceof Error ? `${err.message}: ${String(err.cause)}` : String(err));
          return undefined;
        });
        if (res && res.status !== 200) throw new Error(`presigned PUT: ${res.status} ${await res.text()}`);
        // A PUT that failed counts with the time it took to fail (it did not finish sooner).
        level.puts.push(performance.now() - t0);
        process.stdout.write(
          `renders ${renders}: PUT ${i + 1}/${SAMPLES} ${level.puts.at(-1)!.toFixed(0)} ms (renders done ${level.rendered}, refused ${level.refused})\n`,
        );
      }
      running = false;
      await Promise.all(loops);
      levels.push(level);
    }

    const ms = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
    const base = percentile(levels[0]?.puts ?? [], 50);
    const rows = levels.map((l) => {
      const p50 = percentile(l.puts, 50);
      return `| ${l.renders} | ${ms(p50)} | ${ms(percentile(l.puts, 95))} | ${ms(Math.max(...l.puts))} | ${levels[0]?.renders === 0 ? `${(p50 / base).toFixed(0)}×` : 'n/a'} | ${l.rendered} | ${l.refused} | ${l.failed} | ${l.renderMs.length ? ms(percentile(l.renderMs, 50)) : 'n/a'} |`;
    });
    const notes = levels.flatMap((l) => {
      const said: string[] = [];
      if (l.timedOut) said.push(`${l.timedOut} PUT(s) cut at ${PUT_TIMEOUT_MS / 1000} s`);
      if (l.putErrors.length) {
        said.push(`${l.putErrors.length} PUT(s) failed (${[...new Set(l.putErrors)].join('; ')})`);
      }
      if (l.failures.size) {
        said.push(`render requests failed: ${[...l.failures].map(([why, n]) => `${n} × ${why}`).join('; ')}`);
      }
      return said.length ? [`- ${l.renders} render loops: ${said.join('; ')}.`] : [];
    });
    const extra = Object.entries(passed)
      .filter(([k]) => !['DARKROOM_LOG_LEVEL'].includes(k))
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ');
    const section = `${SECTION}

Measured ${new Date().toISOString().slice(0, 10)} on the development machine (${os.cpus().length} cores shared with other sessions, loopback), Node ${process.version}.
\`darkroom start\` (compiled; API, worker, embedded S3 and SQS in one process, default settings${extra ? ` plus ${extra}` : ''}).
The render source is the \`large\` variant (2560 px WebP) of \`photos/canon-eos-5d-mark-iii_22mp.jpg\`; each render
loop asks for \`w_{n},f_${FORMAT}\` (n from 1200 up) with an \`n\` never asked before (a first render: download the source from
storage, resize, encode, store), one request after another. With the loops running (${RAMP_MS} ms to ramp up),
${SAMPLES} presigned PUTs of a ${small.length}-byte JPEG are timed one after another (client time of the PUT alone).

| concurrent render loops | PUT p50 ms | PUT p95 ms | PUT max ms | p50 vs idle | renders done | renders refused (503) | other failures | render p50 ms |
|--:|--:|--:|--:|--:|--:|--:|--:|--:|
${rows.join('\n')}
${notes.length ? `\n${notes.join('\n')}\n` : ''}
Machine load average at the end: ${os.loadavg()[0]?.toFixed(1)}. Reproduce: \`npm run bench:render-starvation\`.
`;
    await writeResults(SECTION, section);
    process.stdout.write(`${section}\n`);
  } finally {
    await stack.stop();
  }
}

await main();
