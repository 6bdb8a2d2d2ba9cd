// Smoke tests with the real AWS CLI against the embedded server: the CLI is a second, independent
// S3 client (botocore), so anything it trips over is something Amazon S3 would have accepted.
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bytes, REGION, s3ErrorOf, startTestS3, TEST_KEY, type TestS3 } from './support.ts';

/** `aws --version`, or undefined when the CLI is not installed. */
function awsVersion(): string | undefined {
  try {
    return execFileSync('aws', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    return undefined;
  }
}

const version = awsVersion();
// CI installs the CLI (Debian's `awscli`), so its absence is a broken environment, not a reason to skip.
if (version === undefined) {
  throw new Error(
    'The AWS CLI (`aws`) is not on PATH. These tests need it: install it (e.g. `apt-get install awscli` or AWS CLI v2) and rerun.',
  );
}
// `--no-cli-pager` exists only in AWS CLI v2; v1 never pages.
const pagerArgs = version.startsWith('aws-cli/2') ? ['--no-cli-pager'] : [];

let s3: TestS3;
let client: S3Client;
let work: string;
let cliEnv: NodeJS.ProcessEnv;
const Bucket = 'cli-smoke';

interface CliResult {
  stdout: string;
  stderr: string;
}

/** Runs `aws --endpoint-url <server> …args`, rejecting with stdout/stderr on a non-zero exit. */
function aws(...args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      'aws',
      ['--endpoint-url', s3.endpoint, ...pagerArgs, ...args],
      { env: cliEnv, cwd: work, maxBuffer: 16 * 1024 * 1024, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) {
          reject(
            new Error(`aws ${args.join(' ')} failed: ${err.message}\nstdout: ${stdout}\nstderr: ${stderr}`),
          );
        } else resolve({ stdout, stderr });
      },
    );
  });
}

async function awsJson<T>(...args: string[]): Promise<T> {
  const { stdout } = await aws(...args, '--output', 'json');
  return JSON.parse(stdout) as T;
}

function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function exists(key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket, Key: key }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  }
}

beforeAll(async () => {
  s3 = await startTestS3();
  client = s3.client();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-awscli-'));
  const home = path.join(work, 'home');
  fs.mkdirSync(home);
  const configFile = path.join(home, 'config');
  // AWS CLI v1 presigns with SigV2 unless told otherwise; S3 has refused SigV2 for new buckets since
  // 2020 (and this server speaks SigV4 only), so configure what v2 does by default.
  fs.writeFileSync(configFile, '[default]\ns3 =\n  signature_version = s3v4\n');
  const credentialsFile = path.join(home, 'credentials');
  fs.writeFileSync(credentialsFile, '');
  // Only what the test sets: no profile, config, pager or instance metadata from the machine leaks in.
  cliEnv = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: home,
    AWS_CONFIG_FILE: configFile,
    AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
    AWS_ACCESS_KEY_ID: TEST_KEY.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_KEY.secretAccessKey,
    AWS_DEFAULT_REGION: REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_PAGER: '',
  };
  await aws('s3', 'mb', `s3://${Bucket}`);
});

afterAll(async () => {
  await s3?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe(`aws s3 (${version})`, () => {
  it('makes a bucket and lists it', async () => {
    const made = await aws('s3', 'mb', 's3://cli-made');
    expect(made.stdout).toContain('make_bucket: cli-made');
    const { stdout } = await aws('s3', 'ls');
    const names = stdout
      .trim()
      .split('\n')
      .map((line) => line.trim().split(/\s+/).pop());
    expect(names).toEqual(expect.arrayContaining([Bucket, 'cli-made']));
    await aws('s3', 'rb', 's3://cli-made');
    expect((await aws('s3', 'ls')).stdout).not.toContain('cli-made');
  });

  it('copies a small file up and down', async () => {
    const src = path.join(work, 'small.bin');
    fs.writeFileSync(src, bytes(12_345, 3));
    await aws('s3', 'cp', src, `s3://${Bucket}/small/one.bin`);
    const dst = path.join(work, 'small-back.bin');
    await aws('s3', 'cp', `s3://${Bucket}/small/one.bin`, dst);
    expect(sha256(dst)).toBe(sha256(src));
  });

  it('copies a file larger than 8 MiB with multipart, both ways', async () => {
    const src = path.join(work, 'large.bin');
    const size = 8 * 1024 * 1024 + 1_234_567;
    fs.writeFileSync(src, bytes(size, 9));
    await aws('s3', 'cp', src, `s3://${Bucket}/large/big.bin`);
    const head = await client.send(new HeadObjectCommand({ Bucket, Key: 'large/big.bin' }));
    expect(head.ContentLength).toBe(size);
    // A multipart ETag is md5-of-part-md5s plus "-<parts>": proof the CLI really used multipart.
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-2"$/);
    const dst = path.join(work, 'large-back.bin');
    await aws('s3', 'cp', `s3://${Bucket}/large/big.bin`, dst);
    expect(fs.statSync(dst).size).toBe(size);
    expect(sha256(dst)).toBe(sha256(src));
  });

  it('lists recursively and by prefix', async () => {
    const file = path.join(work, 'ls-item.txt');
    fs.writeFileSync(file, 'listed');
    await Promise.all(
      ['ls/a.txt', 'ls/sub/b.txt', 'ls/sub/deeper/c.txt', 'lsx/d.txt'].map((key) =>
        aws('s3', 'cp', file, `s3://${Bucket}/${key}`),
      ),
    );
    const keysOf = (out: string) =>
      out
        .trim()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => l.trim().split(/\s+/).slice(3).join(' '));
    const recursive = await aws('s3', 'ls', '--recursive', `s3://${Bucket}/ls/`);
    expect(keysOf(recursive.stdout)).toEqual(['ls/a.txt', 'ls/sub/b.txt', 'ls/sub/deeper/c.txt']);
    // Without --recursive the CLI lists one level, with common prefixes shown as "PRE sub/".
    const level = await aws('s3', 'ls', `s3://${Bucket}/ls/`);
    expect(level.stdout).toMatch(/^\s*PRE sub\/$/m);
    expect(level.stdout).toMatch(/\sa\.txt$/m);
    expect(level.stdout).not.toContain('b.txt');
    // A bare prefix (no trailing slash) matches both "ls/" and "lsx/".
    const prefix = await aws('s3', 'ls', `s3://${Bucket}/ls`);
    expect(prefix.stdout).toMatch(/PRE ls\//);
    expect(prefix.stdout).toMatch(/PRE lsx\//);
    const sized = await aws('s3', 'ls', '--recursive', '--summarize', `s3://${Bucket}/ls/sub/`);
    expect(sized.stdout).toMatch(/Total Objects: 2/);
  });

  it('removes recursively', async () => {
    const file = path.join(work, 'rm-item.txt');
    fs.writeFileSync(file, 'to be removed');
    await Promise.all(
      ['rm/1', 'rm/2/x', 'rm/2/y', 'rmkeep'].map((key) => aws('s3', 'cp', file, `s3://${Bucket}/${key}`)),
    );
    const { stdout } = await aws('s3', 'rm', '--recursive', `s3://${Bucket}/rm/`);
    expect(stdout.match(/^delete: /gm)).toHaveLength(3);
    expect(await exists('rm/1')).toBe(false);
    expect(await exists('rm/2/y')).toBe(false);
    expect(await exists('rmkeep')).toBe(true);
    const left = await aws('s3', 'ls', '--recursive', `s3://${Bucket}/rm`);
    expect(left.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('syncs a small directory up, then only what changed, then down', async () => {
    const dir = path.join(work, 'sync-src');
    fs.mkdirSync(path.join(dir, 'nested'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'one.txt'), 'one');
    fs.writeFileSync(path.join(dir, 'nested', 'two.bin'), bytes(70_000, 2));
    fs.writeFileSync(path.join(dir, 'three.json'), '{"n":3}');
    // S3 keeps whole seconds, so a file written in the second it is uploaded looks newer than its object and
    // a second sync sends it again (on Amazon S3 too). A user's files are older than that.
    const minuteAgo = new Date(Date.now() - 60_000);
    for (const rel of ['one.txt', 'nested/two.bin', 'three.json'])
      fs.utimesSync(path.join(dir, rel), minuteAgo, minuteAgo);
    const first = await aws('s3', 'sync', dir, `s3://${Bucket}/synced`);
    expect(first.stdout.match(/^upload: /gm)).toHaveLength(3);
    // Unchanged files are skipped: this relies on ListObjects sizes and LastModified being right.
    const again = await aws('s3', 'sync', dir, `s3://${Bucket}/synced`);
    expect(again.stdout.trim()).toBe('');
    fs.writeFileSync(path.join(dir, 'one.txt'), 'one, changed');
    const changed = await aws('s3', 'sync', dir, `s3://${Bucket}/synced`);
    expect(changed.stdout.match(/^upload: /gm)).toHaveLength(1);
    expect(changed.stdout).toContain('synced/one.txt');
    const back = path.join(work, 'sync-back');
    await aws('s3', 'sync', `s3://${Bucket}/synced`, back);
    for (const rel of ['one.txt', 'nested/two.bin', 'three.json']) {
      expect(sha256(path.join(back, rel))).toBe(sha256(path.join(dir, rel)));
    }
  });

  it('presigns a GET URL that fetch can use', async () => {
    const file = path.join(work, 'presign.txt');
    fs.writeFileSync(file, 'presigned by the CLI');
    await aws('s3', 'cp', file, `s3://${Bucket}/presign/it.txt`);
    const { stdout } = await aws('s3', 'presign', `s3://${Bucket}/presign/it.txt`, '--expires-in', '300');
    const url = stdout.trim();
    expect(url).toContain('X-Amz-Algorithm=AWS4-HMAC-SHA256');
    expect(url).toContain('X-Amz-Signature=');
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('presigned by the CLI');
    // Tampering with the signed URL is refused.
    const tampered = await fetch(url.replace('presign/it.txt', 'presign/other.txt'));
    expect(tampered.status).toBe(403);
    expect(await tampered.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});

describe('aws s3api', () => {
  it('puts an object with a content type and metadata, then heads it', async () => {
    const file = path.join(work, 'api.json');
    fs.writeFileSync(file, '{"hello":"world"}');
    const put = await awsJson<{ ETag: string }>(
      's3api',
      'put-object',
      '--bucket',
      Bucket,
      '--key',
      'api/doc.json',
      '--body',
      file,
      '--content-type',
      'application/json',
      '--cache-control',
      'no-cache',
      '--metadata',
      'owner=alice,purpose=smoke-test',
    );
    expect(put.ETag).toBe(`"${createHash('md5').update('{"hello":"world"}').digest('hex')}"`);
    const head = await awsJson<Record<string, unknown>>(
      's3api',
      'head-object',
      '--bucket',
      Bucket,
      '--key',
      'api/doc.json',
    );
    expect(head).toMatchObject({
      ContentType: 'application/json',
      ContentLength: 17,
      CacheControl: 'no-cache',
      ETag: put.ETag,
      Metadata: { owner: 'alice', purpose: 'smoke-test' },
    });
    expect(typeof head.LastModified).toBe('string');
    expect(Number.isNaN(Date.parse(head.LastModified as string))).toBe(false);
  });

  it('reports a missing object as a 404 from head-object', async () => {
    const err = await aws('s3api', 'head-object', '--bucket', Bucket, '--key', 'api/missing').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/\(404\)|Not Found/);
  });

  it('lists objects with list-objects-v2, paginating with max-items', async () => {
    const file = path.join(work, 'v2.txt');
    fs.writeFileSync(file, 'v2');
    await Promise.all(
      ['v2/a', 'v2/b', 'v2/c/d', 'v2/c/e'].map((key) => aws('s3', 'cp', file, `s3://${Bucket}/${key}`)),
    );
    type ListV2 = {
      Contents?: { Key: string; Size: number; ETag: string; LastModified: string }[];
      CommonPrefixes?: { Prefix: string }[];
      KeyCount?: number;
      NextToken?: string;
    };
    const all = await awsJson<ListV2>('s3api', 'list-objects-v2', '--bucket', Bucket, '--prefix', 'v2/');
    expect(all.Contents?.map((c) => c.Key)).toEqual(['v2/a', 'v2/b', 'v2/c/d', 'v2/c/e']);
    expect(all.Contents?.[0]).toMatchObject({
      Size: 2,
      ETag: `"${createHash('md5').update('v2').digest('hex')}"`,
    });
    const delimited = await awsJson<ListV2>(
      's3api',
      'list-objects-v2',
      '--bucket',
      Bucket,
      '--prefix',
      'v2/',
      '--delimiter',
      '/',
    );
    expect(delimited.Contents?.map((c) => c.Key)).toEqual(['v2/a', 'v2/b']);
    expect(delimited.CommonPrefixes).toEqual([{ Prefix: 'v2/c/' }]);
    // The CLI pages through continuation tokens itself when --page-size is small.
    const paged = await awsJson<ListV2>(
      's3api',
      'list-objects-v2',
      '--bucket',
      Bucket,
      '--prefix',
      'v2/',
      '--page-size',
      '1',
    );
    expect(paged.Contents?.map((c) => c.Key)).toEqual(['v2/a', 'v2/b', 'v2/c/d', 'v2/c/e']);
    const first = await awsJson<ListV2>(
      's3api',
      'list-objects-v2',
      '--bucket',
      Bucket,
      '--prefix',
      'v2/',
      '--max-items',
      '3',
    );
    expect(first.Contents).toHaveLength(3);
    expect(first.NextToken).toBeTruthy();
    const rest = await awsJson<ListV2>(
      's3api',
      'list-objects-v2',
      '--bucket',
      Bucket,
      '--prefix',
      'v2/',
      '--starting-token',
      first.NextToken!,
    );
    expect(rest.Contents?.map((c) => c.Key)).toEqual(['v2/c/e']);
  });

  it('deletes with the CLI what the SDK then cannot find', async () => {
    const file = path.join(work, 'del.txt');
    fs.writeFileSync(file, 'x');
    await aws('s3', 'cp', file, `s3://${Bucket}/api/del.txt`);
    await aws('s3api', 'delete-object', '--bucket', Bucket, '--key', 'api/del.txt');
    const err = await s3ErrorOf(() => client.send(new HeadObjectCommand({ Bucket, Key: 'api/del.txt' })));
    expect(err.status).toBe(404);
  });

  it('puts, gets and deletes object tags (put-object --tagging tags at upload)', async () => {
    const file = path.join(work, 'tagged.txt');
    fs.writeFileSync(file, 'tagged');
    await aws(
      's3api',
      'put-object',
      '--bucket',
      Bucket,
      '--key',
      'api/tagged.txt',
      '--body',
      file,
      '--tagging',
      'darkroom-state=unprocessed',
    );
    type Tagging = { TagSet: { Key: string; Value: string }[] };
    const get = () =>
      awsJson<Tagging>('s3api', 'get-object-tagging', '--bucket', Bucket, '--key', 'api/tagged.txt');
    expect((await get()).TagSet).toEqual([{ Key: 'darkroom-state', Value: 'unprocessed' }]);
    await aws(
      's3api',
      'put-object-tagging',
      '--bucket',
      Bucket,
      '--key',
      'api/tagged.txt',
      '--tagging',
      'TagSet=[{Key=darkroom-state,Value=processed},{Key=owner,Value=alice}]',
    );
    expect((await get()).TagSet).toEqual([
      { Key: 'darkroom-state', Value: 'processed' },
      { Key: 'owner', Value: 'alice' },
    ]);
    await aws('s3api', 'delete-object-tagging', '--bucket', Bucket, '--key', 'api/tagged.txt');
    expect((await get()).TagSet).toEqual([]);
    const tooLong = await aws(
      's3api',
      'put-object-tagging',
      '--bucket',
      Bucket,
      '--key',
      'api/tagged.txt',
      '--tagging',
      `TagSet=[{Key=${'k'.repeat(129)},Value=v}]`,
    ).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(tooLong?.message).toContain('InvalidTag');
  });
});
