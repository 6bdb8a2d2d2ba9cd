import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { TEST_KEY } from '@darkroom/s3-server/test-support';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../src/api/auth/jwt.ts';
import { JWT_SECRET } from '../helpers/api.ts';
import { freePort, type RunningProcess, runDarkroom } from '../helpers/process.ts';
import { TESTDATA } from '../helpers/stack.ts';
import {
  garbage,
  gifJsPolyglot,
  jpegBomb,
  jpegWithHugeMetadata,
  plainPng,
  pngBomb,
  SCRIPT_SVG,
  withZipAppended,
} from './generate.ts';

// Hostile uploads through the real flow (intent → presigned PUT → S3 event → worker) against the
// scale-out roles as separate processes, so the worker's peak RSS is its own.

/** Generous: the worker idles near 150 MiB and a 22 MP photo needs ~170 MiB (pipeline/develop.ts). */
const WORKER_RSS_BOUND = 768 * 2 ** 20;
const MiB = 2 ** 20;

interface Case {
  name: string;
  bytes: Buffer;
  contentType: string;
  /** A failure code, or 'ready' for inputs that are safe once re-encoded (checked below). */
  expect: string;
  /** For ready ones: the detected format. */
  format?: string;
}

const processes: RunningProcess[] = [];
let env: Record<string, string>;
let api: string;
let token: string;
let dataDir: string;
let worker: RunningProcess;

function role(name: string): RunningProcess {
  const proc = runDarkroom([name], env);
  processes.push(proc);
  return proc;
}

const read = (p: string) => fs.readFileSync(path.join(TESTDATA, p));

async function intent(body: Record<string, unknown>) {
  const res = await fetch(`${api}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Intent + presigned PUT; returns the image id. */
async function upload(c: Case): Promise<string> {
  const created = await intent({ filename: c.name, contentType: c.contentType, size: c.bytes.length });
  expect(created.status, `${c.name}: ${JSON.stringify(created.json)}`).toBe(201);
  const { image, upload: up } = created.json as {
    image: { id: string };
    upload: { url: string; headers: Record<string, string> };
  };
  const put = await fetch(up.url, { method: 'PUT', body: new Uint8Array(c.bytes), headers: up.headers });
  expect(put.status, c.name).toBe(200);
  return image.id;
}

async function settled(id: string, timeoutMs = 45_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${api}/v1/images/${id}`, { headers: { authorization: `Bearer ${token}` } });
    const img = (await res.json()) as Record<string, unknown>;
    if (!['pending', 'uploaded', 'processing'].includes(String(img.status))) return img;
    if (Date.now() > deadline) throw new Error(`image ${id} still ${String(img.status)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-hostile-'));
  const port = await freePort();
  env = {
    DARKROOM_PORT: String(port),
    DARKROOM_S3_PORT: String(await freePort()),
    DARKROOM_SQS_PORT: String(await freePort()),
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_JWT_SECRET: JWT_SECRET,
    DARKROOM_S3_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    DARKROOM_S3_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    DARKROOM_UPLOADS_PER_MINUTE: '1000',
    DARKROOM_MAX_PENDING_UPLOADS: '1000',
    DARKROOM_WORKER_CONCURRENCY: '2',
    DARKROOM_LOG_LEVEL: 'info',
  };
  await role('sqs').waitForOutput('Embedded SQS listening', 30_000);
  await role('s3').waitForOutput('Embedded S3 listening', 30_000);
  await role('api').waitForOutput('Darkroom API listening', 30_000);
  worker = role('worker');
  await worker.waitForOutput(/worker (running|started)/, 30_000);
  api = `http://127.0.0.1:${port}`;
  token = await mintToken(JWT_SECRET, { sub: 'mallory', ttlSeconds: 600 });
}, 90_000);

afterAll(async () => {
  for (const p of processes)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  fs.rmSync(dataDir, { recursive: true, force: true });
});

describe('hostile uploads end to end', () => {
  it('each ends failed with its code or ready re-encoded; normal photos flow; worker memory stays bounded', async () => {
    const photo = read('photos/DSCN0010.jpg');
    const zipPayload = Buffer.from('<?php system($_GET["c"]); ?>');
    // The corpus (hostile/) as an attacker would send it: the declared type from the file name.
    const corpus: Case[] = [
      ['65536-uint32-limit.png', 'image/png', 'too_many_pixels'],
      ['broken.png', 'image/png', 'corrupt_image'],
      ['corrupt-header.jpg', 'image/jpeg', 'corrupt_image'],
      ['corrupted.jpg', 'image/jpeg', 'corrupt_image'],
      ['crash-20ca2625096a205937b809a7841e7f019f0b2dc6.heic', 'image/heic', 'corrupt_image'],
      ['decompression_bomb.gif', 'image/gif', 'too_many_pixels'],
      ['giant-image.jpg', 'image/jpeg', 'too_many_pixels'],
      // SVG smuggled under an allowed type: the worker sniffs the bytes.
      ['maliciousJsAndPhpTest.svg', 'image/png', 'unsupported_type'],
      ['xlinkLaughsTest.svg', 'image/png', 'unsupported_type'],
      ['not-an-image.jpg', 'image/jpeg', 'unsupported_type'],
      ['truncated.jpg', 'image/jpeg', 'corrupt_image'],
      ['truncated.png', 'image/png', 'corrupt_image'],
      // Valid images in disguise: developed from what the bytes are, re-encoded, nothing else copied.
      ['mp3jpg.mp3', 'image/jpeg', 'ready', 'jpeg'],
      ['png-disguised-as.jpg', 'image/jpeg', 'ready', 'png'],
      ['png_decompression_dos.png', 'image/png', 'ready', 'png'],
    ].map(([name, contentType, outcome, format]) => ({
      name: name!,
      bytes: read(`hostile/${name}`),
      contentType: contentType!,
      expect: outcome!,
      ...(format ? { format } : {}),
    }));
    const generated: Case[] = [
      {
        name: 'png-bomb-100k.png',
        bytes: pngBomb(100_000, 100_000),
        contentType: 'image/png',
        expect: 'too_many_pixels',
      },
      {
        name: 'jpeg-bomb-65k.jpg',
        bytes: jpegBomb(photo, 65_000, 65_000),
        contentType: 'image/jpeg',
        expect: 'too_many_pixels',
      },
      {
        name: 'half.jpg',
        bytes: photo.subarray(0, photo.length >> 1),
        contentType: 'image/jpeg',
        expect: 'corrupt_image',
      },
      {
        name: 'garbage.webp',
        bytes: garbage(64 * 1024),
        contentType: 'image/webp',
        expect: 'unsupported_type',
      },
      { name: 'script.png', bytes: SCRIPT_SVG, contentType: 'image/png', expect: 'unsupported_type' },
      {
        name: 'zip.jpg',
        bytes: withZipAppended(photo, 'shell.php', zipPayload),
        contentType: 'image/jpeg',
        expect: 'ready',
        format: 'jpeg',
      },
      { name: 'gifjs.gif', bytes: gifJsPolyglot(), contentType: 'image/gif', expect: 'ready', format: 'gif' },
      {
        name: 'tall.png',
        bytes: await plainPng(1, 20_000),
        contentType: 'image/png',
        expect: 'ready',
        format: 'png',
      },
      {
        name: 'wide.png',
        bytes: await plainPng(20_000, 1),
        contentType: 'image/png',
        expect: 'ready',
        format: 'png',
      },
      {
        name: 'exif-10mb.jpg',
        bytes: jpegWithHugeMetadata(photo, 10 * MiB),
        contentType: 'image/jpeg',
        expect: 'ready',
        format: 'jpeg',
      },
      {
        name: 'png-as.jpg',
        bytes: read('formats/blackbug.png'),
        contentType: 'image/jpeg',
        expect: 'ready',
        format: 'png',
      },
    ];
    const normal: Case[] = [
      'photos/DSCN0010.jpg',
      'orientation/Landscape_6.jpg',
      'photos/HMD_Nokia_8.3_5G.jpg',
    ].map((p) => ({ name: p, bytes: read(p), contentType: 'image/jpeg', expect: 'ready', format: 'jpeg' }));
    // Interleave a normal photo after every few hostile ones, so they share the queue and the worker.
    const hostile = [...corpus, ...generated];
    const all: Case[] = [];
    hostile.forEach((c, i) => {
      all.push(c);
      if (i % 9 === 4) all.push(normal[Math.floor(i / 9)]!);
    });
    expect(all.filter((c) => normal.includes(c))).toHaveLength(normal.length);

    const idleRss = worker.peakRss();
    const t0 = Date.now();
    const ids = await Promise.all(all.map(upload));
    const outcomes = await Promise.all(ids.map((id) => settled(id)));
    const elapsed = Date.now() - t0;

    const got = all.map((c, i) => {
      const img = outcomes[i]!;
      const error = img.error as { code: string } | undefined;
      return {
        name: c.name,
        outcome: img.status === 'failed' ? error?.code : String(img.status),
        format: img.format,
      };
    });
    expect(got).toEqual(
      all.map((c) => ({
        name: c.name,
        outcome: c.expect,
        format: c.expect === 'ready' ? c.format : null,
      })),
    );

    // What is published from the accepted ones is re-encoded pixels: no appended ZIP, no script, no EXIF.
    for (const [i, c] of all.entries()) {
      if (c.expect !== 'ready') continue;
      const res = await fetch(`${api}/img/${ids[i]}/thumb`, { headers: { accept: 'image/webp' } });
      expect(res.status, c.name).toBe(200);
      expect(res.headers.get('x-content-type-options'), c.name).toBe('nosniff');
      const body = Buffer.from(await res.arrayBuffer());
      expect(body.includes(Buffer.from('PK\x03\x04', 'latin1')), c.name).toBe(false);
      expect(body.includes(Buffer.from('alert(')), c.name).toBe(false);
      const meta = await sharp(body).metadata();
      expect([meta.format, meta.exif, meta.xmp], c.name).toEqual(['webp', undefined, undefined]);
    }

    const peak = worker.peakRss();
    console.info(
      `hostile e2e: ${all.length} uploads (${hostile.length} hostile) settled in ${elapsed} ms; ` +
        `worker peak RSS ${(idleRss / MiB).toFixed(0)} MiB idle → ${(peak / MiB).toFixed(0)} MiB`,
    );
    expect(peak).toBeLessThan(WORKER_RSS_BOUND);
    // Nothing was retried into the dead-letter path: every failure is a permanent code, none processing_failed.
    expect(got.some((g) => g.outcome === 'processing_failed')).toBe(false);
  }, 120_000);

  it('refuses an empty file and an SVG at intent time, before any URL is issued', async () => {
    expect(await intent({ filename: 'empty.jpg', contentType: 'image/jpeg', size: 0 })).toMatchObject({
      status: 400,
      json: { error: { code: 'invalid_request' } },
    });
    for (const contentType of ['image/svg+xml', 'text/html', 'application/zip']) {
      expect(await intent({ filename: 'x.svg', contentType, size: SCRIPT_SVG.length })).toMatchObject({
        status: 415,
        json: { error: { code: 'unsupported_type' } },
      });
    }
  });
});
