import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, listQueues, type RgwCluster, startRgw } from '../src/index.ts';

// The helpers other suites stand on: a cluster that starts, keeps its data across a gateway restart
// and leaves nothing behind; a vhost that exists only for its test.
let rgw: RgwCluster;
beforeAll(async () => {
  rgw = await startRgw();
}, 180_000);
afterAll(() => rgw.stop());

const signedFetch = (url: string, method: string, body?: string) =>
  // RGW lets the bucket owner in with SigV4 only; curl signs it (the S3 SDK is not a dependency here).
  Promise.resolve(
    execFileSync(
      'curl',
      [
        '-sS',
        '-o',
        '-',
        '-w',
        '\n%{http_code}',
        '--aws-sigv4',
        'aws:amz:us-east-1:s3',
        '--user',
        `${rgw.accessKeyId}:${rgw.secretAccessKey}`,
        '-H',
        'x-amz-content-sha256: UNSIGNED-PAYLOAD',
        '-X',
        method,
        ...(body === undefined ? [] : ['--data-binary', body]),
        url,
      ],
      { encoding: 'utf8' },
    ),
  );

describe('startRgw', () => {
  it('serves S3, and a killed gateway comes back with every object', async () => {
    expect(rgw.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await signedFetch(`${rgw.endpoint}/kept`, 'PUT')).toMatch(/200$/);
    expect(await signedFetch(`${rgw.endpoint}/kept/object`, 'PUT', 'bytes in the OSD')).toMatch(/200$/);
    await rgw.killGateway();
    await expect(fetch(rgw.endpoint)).rejects.toThrow();
    await rgw.startGateway();
    expect(await signedFetch(`${rgw.endpoint}/kept/object`, 'GET')).toBe('bytes in the OSD\n200');
  });

  it('stops every daemon it started and removes its directory', async () => {
    const other = await startRgw();
    const pids = fs
      .readFileSync(`${other.dir}/pids`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => Number(l.split(' ')[1]));
    await other.stop();
    expect(fs.existsSync(other.dir)).toBe(false);
    expect(
      pids.filter(
        (pid) => fs.existsSync(`/proc/${pid}/cmdline`) && fs.readFileSync(`/proc/${pid}/cmdline`).length > 0,
      ),
    ).toEqual([]);
  }, 120_000);
});

describe('createVhost', () => {
  it('makes a vhost of its own, and drop() removes it', async () => {
    const vhost = await createVhost();
    expect(vhost.url).toBe(`amqp://guest:guest@127.0.0.1:5672/${vhost.name}`);
    expect(await listQueues(vhost.name)).toEqual([]);
    const vhosts = () => execFileSync('rabbitmqctl', ['-q', 'list_vhosts'], { encoding: 'utf8' }).split('\n');
    expect(vhosts()).toContain(vhost.name);
    await vhost.drop();
    expect(vhosts()).not.toContain(vhost.name);
  });
});
