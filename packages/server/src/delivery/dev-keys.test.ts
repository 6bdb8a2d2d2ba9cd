import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DEV_KEY_PAIR_ID, devKeyPath, loadOrCreateDevKeys } from './dev-keys.ts';

const dirs: string[] = [];
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-devkeys-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

describe('development CloudFront key pair', () => {
  it('creates an RSA-2048 key with mode 0600 once, then loads the same key', async () => {
    const dir = tempDir();
    const first = await loadOrCreateDevKeys(dir);
    expect(first).toMatchObject({ keyPairId: DEV_KEY_PAIR_ID, created: true });
    const stat = fs.statSync(devKeyPath(dir));
    expect(stat.mode & 0o777).toBe(0o600);
    const key = crypto.createPrivateKey(first.privateKeyPem!);
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
    const again = await loadOrCreateDevKeys(dir);
    expect(again.created).toBe(false);
    expect(again.privateKeyPem).toBe(first.privateKeyPem);
    expect(again.publicKeyPem).toBe(first.publicKeyPem);
  });

  it('gives processes racing on a fresh data dir one and the same key', async () => {
    const dir = tempDir();
    const all = await Promise.all([1, 2, 3].map(() => loadOrCreateDevKeys(dir)));
    expect(new Set(all.map((k) => k.privateKeyPem)).size).toBe(1);
    expect(all.filter((k) => k.created)).toHaveLength(1);
    expect(fs.readdirSync(path.dirname(devKeyPath(dir)))).toEqual(['cloudfront-dev.pem']);
  });

  it('tightens a key file others can read, and refuses one that is not a key', async () => {
    const dir = tempDir();
    await loadOrCreateDevKeys(dir);
    fs.chmodSync(devKeyPath(dir), 0o644);
    await loadOrCreateDevKeys(dir);
    expect(fs.statSync(devKeyPath(dir)).mode & 0o777).toBe(0o600);
    fs.writeFileSync(devKeyPath(dir), 'not a key');
    await expect(loadOrCreateDevKeys(dir)).rejects.toThrow(/cloudfront-dev\.pem is not a PEM private key/);
  });
});
