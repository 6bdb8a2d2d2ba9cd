import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEV_ACCESS_KEY_ID,
  DEV_JWT_SECRET,
  DEV_SECRET_ACCESS_KEY,
  loadConfig,
} from '../config.ts';
import { generatedKeyPath, isLoopbackHost, resolveSecrets } from './development.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});
function config(env: Record<string, string>) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-secrets-'));
  dirs.push(dir);
  return loadConfig({ DARKROOM_DATA_DIR: dir, ...env });
}
async function problems(promise: Promise<unknown>): Promise<string[]> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}
const OWN = { DARKROOM_JWT_SECRET: 'own-jwt-secret-0123456789' };
const KEYS = {
  DARKROOM_S3_ACCESS_KEY_ID: 'AKIDOWN',
  DARKROOM_S3_SECRET_ACCESS_KEY: 'own-s3-secret-0123456789',
};

describe('isLoopbackHost', () => {
  it.each([
    ['127.0.0.1', true],
    ['127.8.9.10', true],
    ['localhost', true],
    ['::1', true],
    ['[::1]', true],
    ['0.0.0.0', false],
    ['::', false],
    ['192.168.1.5', false],
    ['example.com', false],
  ])('%s → %s', (host, loopback) => expect(isLoopbackHost(host)).toBe(loopback));
});

describe('published development secrets', () => {
  it('are used as they are in development on loopback', async () => {
    const c = config({});
    const resolved = await resolveSecrets(c, 'start');
    expect(resolved).toBe(c);
    expect(resolved.s3.accessKeys[0]).toEqual({
      accessKeyId: DEV_ACCESS_KEY_ID,
      secretAccessKey: DEV_SECRET_ACCESS_KEY,
    });
  });

  it('stop start-up on a non-loopback host, naming every variable to set', async () => {
    for (const host of ['0.0.0.0', '192.168.1.5', '::']) {
      const found = await problems(resolveSecrets(config({ DARKROOM_HOST: host }), 'start'));
      expect(found.map((p) => p.split(':')[0])).toEqual([
        'DARKROOM_JWT_SECRET',
        'DARKROOM_TRANSFORM_SECRET',
        'DARKROOM_S3_ACCESS_KEY_ID / DARKROOM_S3_SECRET_ACCESS_KEY',
      ]);
      expect(found[0]).toContain(`DARKROOM_HOST (${host}) is not a loopback address`);
    }
  });

  it('are checked per role: a worker needs no JWT or transform secret', async () => {
    expect(await problems(resolveSecrets(config({ DARKROOM_HOST: '0.0.0.0', ...KEYS }), 'worker'))).toEqual(
      [],
    );
    expect(await problems(resolveSecrets(config({ DARKROOM_HOST: '0.0.0.0', ...KEYS }), 'api'))).toHaveLength(
      2,
    );
    // A worker against Amazon S3 and SQS signs with the AWS chain, not the published pair.
    const onAws = config({
      DARKROOM_HOST: '0.0.0.0',
      DARKROOM_S3_ENDPOINT: 'https://s3.amazonaws.com',
      DARKROOM_SQS_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/1/q',
    });
    expect(await problems(resolveSecrets(onAws, 'worker'))).toEqual([]);
  });

  it('count by value: the published JWT secret set explicitly is still published', async () => {
    const found = await problems(
      resolveSecrets(
        config({ DARKROOM_HOST: '0.0.0.0', DARKROOM_JWT_SECRET: DEV_JWT_SECRET, ...KEYS }),
        'api',
      ),
    );
    expect(found[0]).toMatch(/^DARKROOM_JWT_SECRET:/);
  });

  it('give way to a generated S3 key pair once a secret of your own is set', async () => {
    const c = config(OWN);
    const resolved = await resolveSecrets(c, 'start');
    expect(resolved.s3.accessKeySource).toBe('generated');
    const [key] = resolved.s3.accessKeys;
    expect(key!.accessKeyId).toMatch(/^DRK[0-9A-F]{17}$/);
    expect(key!.secretAccessKey).not.toBe(DEV_SECRET_ACCESS_KEY);
    // The same pair for every role and restart over the data dir, in a file only the owner reads.
    expect((await resolveSecrets(c, 'sqs')).s3.accessKeys).toEqual([key]);
    expect(await resolveSecrets(resolved, 'api')).toBe(resolved);
    expect(fs.statSync(generatedKeyPath(c.dataDir)).mode & 0o777).toBe(0o600);
  });

  it('refuse the published S3 pair set explicitly beside secrets of your own', async () => {
    const found = await problems(
      resolveSecrets(
        config({
          ...OWN,
          DARKROOM_S3_ACCESS_KEY_ID: DEV_ACCESS_KEY_ID,
          DARKROOM_S3_SECRET_ACCESS_KEY: DEV_SECRET_ACCESS_KEY,
        }),
        's3',
      ),
    );
    expect(found).toHaveLength(1);
    expect(found[0]).toContain('DARKROOM_JWT_SECRET');
  });
});
