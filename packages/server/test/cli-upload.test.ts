// `darkroom upload FILE…`: the compiled CLI (run `npm run build` first) uploading through the client SDK
// against an in-process stack; one line per file when stdout is not a TTY, a summary, the exit code.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JWT_SECRET } from './helpers/api.ts';
import { runDarkroom } from './helpers/process.ts';
import { startTestStack, TESTDATA, type TestStack } from './helpers/stack.ts';

let stack: TestStack;

beforeAll(async () => {
  stack = await startTestStack();
});

afterAll(async () => {
  await stack?.stop();
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
