// `darkroom upload FILE…`: the compiled CLI (run `npm run build` first) uploading through the client SDK
// against an in-process stack; one line per file when stdout is not a TTY, a summary, the exit code.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createFileResumeStore, createUploader } from '@darkroom/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeTransport as sendPart } from '../../client/src/transport-node.ts';
import { mintToken } from '../src/api/auth/jwt.ts';
import { JWT_SECRET } from './helpers/api.ts';
import { noisePng } from './helpers/photos.ts';
import { runDarkroom } from './helpers/process.ts';
import { startTestStack, TESTDATA, type TestStack } from './helpers/stack.ts';

let stack: TestStack;
/** A stack that makes anything above 5 MiB a multipart upload. */
let mpStack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
  mpStack = await startTestStack({
    DARKROOM_MULTIPART_THRESHOLD: String(5 * 1024 * 1024),
    DARKROOM_MULTIPART_PART_SIZE: String(5 * 1024 * 1024),
  });
});

afterAll(async () => {
  await stack?.stop();
  await mpStack?.stop();
});

function upload(files: string[], extra: string[] = []) {
  return runDarkroom(['upload', '--endpoint', stack.api, ...extra, ...files], {
    DARKROOM_JWT_SECRET: JWT_SECRET,
    DARKROOM_LOG_LEVEL: 'silent',
  });
}

describe('darkroom upload', () => {
  it('uploads photos (processed smaller), waits until ready, prints a summary and exits 0', async () => {
    const files = [
      path.join(TESTDATA, 'photos/DSCN0010.jpg'),
      path.join(TESTDATA, 'orientation/apple-iphone-5_orientation3_gps.jpg'),
    ];
    const run = upload(files, ['--sub', 'cli-alice']);
    expect(await run.exited).toBe(0);
    const out = run.output();
    expect(out).toMatch(/DSCN0010\.jpg .*100%.*ready \S+/);
    expect(out).toMatch(/apple-iphone-5_orientation3_gps\.jpg .*2\.\d MB → .*ready/);
    expect(out).toMatch(
      /2 files: 2 ready, 0 failed; sent .* of .* original \(\d+% saved by processing\) in \d+\.\d s/,
    );
    const list = await stack.call('GET', '/v1/images', { as: 'cli-alice' });
    const images = list.json.images as { status: string; contentType: string; filename: string }[];
    expect(images.map((i) => i.status)).toEqual(['ready', 'ready']);
    expect(images.map((i) => i.filename).sort()).toEqual([
      'DSCN0010.webp',
      'apple-iphone-5_orientation3_gps.webp',
    ]);
  });

  it("uploads as the web app's development user by default, says so, and prints each image's URL (issue 17)", async () => {
    const file = path.join(TESTDATA, 'photos/DSCN0010.jpg');
    const run = upload([file]);
    expect(await run.exited).toBe(0);
    const out = run.output();
    expect(out).toContain(
      `Uploading 1 file to ${stack.api} as "dev" (the web app's development user: they show in its gallery)`,
    );
    const url = new RegExp(`ready: ${file}: (${stack.config.publicBaseUrl}/img/[0-9a-f-]{36}/\\w+)\\n`).exec(
      out,
    )?.[1];
    expect(url, out).toBeDefined();
    const res = await fetch(url!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^image\//);
    expect(out).toContain(`Gallery: ${stack.api}/ (the web app, signed in as "dev" in development)`);
    const list = await stack.call('GET', '/v1/images', { as: 'dev' });
    const ids = (list.json.images as { id: string }[]).map((i) => i.id);
    expect(ids).toContain(url!.split('/').at(-2));
    // Another user is named, without the gallery line; --no-wait prints the image's API URL.
    const other = upload([file], ['--sub', 'cli-dora', '--no-wait']);
    expect(await other.exited).toBe(0);
    expect(other.output()).toContain(`as "cli-dora"\n`);
    expect(other.output()).toMatch(new RegExp(`uploaded: ${file}: ${stack.api}/v1/images/[0-9a-f-]{36}\\n`));
    expect(other.output()).not.toContain('Gallery:');
  });

  it('says a photo the user already stored is already uploaded, and that it sent nothing (issue 17.16)', async () => {
    const file = path.join(TESTDATA, 'photos/DSCN0010.jpg');
    const first = upload([file], ['--sub', 'cli-erin']);
    expect(await first.exited).toBe(0);
    expect(first.output()).not.toContain('already uploaded');
    const again = upload([file], ['--sub', 'cli-erin']);
    expect(await again.exited).toBe(0);
    const out = again.output();
    expect(out).toMatch(/DSCN0010\.jpg .* → 0 bytes .*ready \(already uploaded\)/);
    expect(out).toMatch(/1 file: 1 ready, 0 failed; sent 0 bytes of /);
    expect(out).toMatch(
      /ready: \S+DSCN0010\.jpg: http\S+ \(already uploaded: the same bytes, stored once\)\n/,
    );
    const list = await stack.call('GET', '/v1/images', { as: 'cli-erin' });
    expect((list.json.images as unknown[]).length).toBe(1);
  });

  it('exits 1 when any upload fails, naming the file and the reason; --no-process sends bytes as they are', async () => {
    const good = path.join(TESTDATA, 'photos/DSCN0010.jpg');
    const refused = path.join(TESTDATA, 'hostile/mp3jpg.mp3');
    const corrupt = path.join(TESTDATA, 'hostile/not-an-image.jpg');
    const run = upload([good, refused, corrupt], ['--sub', 'cli-bob', '--no-process']);
    expect(await run.exited).toBe(1);
    const out = run.output();
    expect(out).toMatch(/3 files: 1 ready, 2 failed/);
    expect(out).toMatch(
      /failed: .*mp3jpg\.mp3: .*not a recognised image type|failed: .*mp3jpg\.mp3: .*is of type audio/,
    );
    expect(out).toMatch(/failed: .*not-an-image\.jpg: /);
    const list = await stack.call('GET', '/v1/images', { as: 'cli-bob' });
    const images = list.json.images as { status: string; filename: string; contentType: string }[];
    const ok = images.find((i) => i.filename === 'DSCN0010.jpg');
    expect(ok).toMatchObject({ status: 'ready', contentType: 'image/jpeg' });
  });
});

describe('darkroom upload, server unreachable', () => {
  it('gives up after --offline-wait seconds with the reason, instead of waiting for ever', async () => {
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as net.AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const run = runDarkroom(
      [
        'upload',
        '--endpoint',
        `http://127.0.0.1:${closed}`,
        '--no-resume',
        '--offline-wait',
        '1',
        path.join(TESTDATA, 'photos/DSCN0010.jpg'),
      ],
      { DARKROOM_JWT_SECRET: JWT_SECRET, DARKROOM_LOG_LEVEL: 'silent' },
    );
    expect(await run.exited, run.output()).toBe(1);
    expect(run.output()).toMatch(/1 file: 0 ready, 1 failed; sent 0 bytes /);
    expect(run.output()).toMatch(/failed: \S+DSCN0010\.jpg: \S/);
  });

  it('refuses an --offline-wait that is not a number of seconds', async () => {
    const run = runDarkroom(
      ['upload', '--offline-wait', 'soon', path.join(TESTDATA, 'photos/DSCN0010.jpg')],
      {
        DARKROOM_JWT_SECRET: JWT_SECRET,
      },
    );
    expect(await run.exited).toBe(2);
    expect(run.output()).toMatch(/--offline-wait must be a number of seconds/);
  });
});

describe('darkroom upload, resuming', () => {
  it('continues an interrupted multipart upload of the same file when run again', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-cli-resume-'));
    const file = path.join(dir, 'noise.png');
    const resumeFile = path.join(dir, 'resume.json');
    const png = await noisePng();
    fs.writeFileSync(file, png);

    // A first run that died after part 1 (the SDK with a transport that stalls every other part).
    const crashed = createUploader({
      endpoint: mpStack.api,
      token: await mintToken(JWT_SECRET, { sub: 'cli-carol', ttlSeconds: 600 }),
      transport: (req) => (/partNumber=1(&|$)/.test(req.url) ? sendPart(req) : new Promise(() => {})),
      resumeStore: createFileResumeStore(resumeFile),
      process: false,
      parallel: 1,
    });
    const handle = crashed.upload(file);
    await new Promise<void>((resolve) => handle.on('progress', (p) => p.parts[0]?.done && resolve()));
    await new Promise((r) => setTimeout(r, 200));
    crashed.close();
    const saved = JSON.parse(fs.readFileSync(resumeFile, 'utf8')) as Record<
      string,
      { parts: unknown[]; sourcePath: string }
    >;
    expect(Object.values(saved).map((r) => [r.sourcePath, r.parts.length])).toEqual([[file, 1]]);

    const run = runDarkroom(
      [
        'upload',
        '--endpoint',
        mpStack.api,
        '--sub',
        'cli-carol',
        '--no-process',
        '--resume-file',
        resumeFile,
        file,
      ],
      { DARKROOM_JWT_SECRET: JWT_SECRET, DARKROOM_LOG_LEVEL: 'silent' },
    );
    expect(await run.exited, run.output()).toBe(0);
    expect(run.output()).toMatch(/noise\.png .*100%.*resumed, ready/);
    // Honest bytes: this run sent the rest only, and says how much an earlier run had stored.
    expect(run.output()).toMatch(
      /1 file: 1 ready, 0 failed; sent \S+ \S+ \(\S+ \S+ already stored by an earlier run\) of /,
    );
    const image = await mpStack.waitSettled('cli-carol', handle.imageId!);
    expect(image).toMatchObject({ status: 'ready', bytes: png.length });
    expect(JSON.parse(fs.readFileSync(resumeFile, 'utf8'))).toEqual({});
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
