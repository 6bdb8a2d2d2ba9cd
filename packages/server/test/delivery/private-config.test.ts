import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { resolveSigningKeys } from '../../src/delivery/dev-keys.ts';
import { SignedUrls } from '../../src/delivery/signed-urls.ts';

// The DARKROOM_CLOUDFRONT_* variables: what loadConfig accepts, and what it stops start-up for.

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-cfkeys-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** The ConfigError loadConfig throws for `env` (fails the test when it does not throw). */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(Object.keys(env))}`);
}

describe('CloudFront key pair configuration', () => {
  it('is undefined when nothing is set: the API makes a development key and warns once', async () => {
    const config = loadConfig({ DARKROOM_DATA_DIR: dir });
    expect(config.delivery.cloudfront).toBeUndefined();
    expect(config.delivery.signedUrlTtlSeconds).toBe(3600);
    const lines: { level: number; msg: string; keyFile?: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const keys = await resolveSigningKeys(config, log);
    expect(keys.keyPairId).toBe('darkroom-dev');
    const keyFile = path.join(dir, 'keys', 'cloudfront-dev.pem');
    expect(fs.existsSync(keyFile)).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, keyFile });
    expect(lines[0]!.msg).toMatch(/development key pair.*DARKROOM_CLOUDFRONT_KEY_PAIR_ID/);
  });

  it('uses a configured key pair without touching the data dir or warning', async () => {
    const empty = fs.mkdtempSync(path.join(dir, 'configured-'));
    const config = loadConfig({
      DARKROOM_DATA_DIR: empty,
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'KCONF',
      DARKROOM_CLOUDFRONT_PRIVATE_KEY: privatePem,
    });
    const lines: string[] = [];
    const keys = await resolveSigningKeys(
      config,
      pino({ level: 'info' }, { write: (l: string) => lines.push(l) }),
    );
    expect(keys.keyPairId).toBe('KCONF');
    expect(lines).toEqual([]);
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  it('takes the private key inline (with \\n escapes, as .env files carry it) or as a file path', () => {
    const inline = loadConfig({
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'KINLINE',
      DARKROOM_CLOUDFRONT_PRIVATE_KEY: privatePem.replace(/\n/g, '\\n'),
    });
    expect(inline.delivery.cloudfront).toMatchObject({ keyPairId: 'KINLINE', privateKeyPem: privatePem });
    const file = path.join(dir, 'cf.pem');
    fs.writeFileSync(file, privatePem, { mode: 0o600 });
    const fromFile = loadConfig({
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'KFILE',
      DARKROOM_CLOUDFRONT_PRIVATE_KEY: file,
    });
    // The public key is derived from the private one: what signs here verifies here.
    const keys = fromFile.delivery.cloudfront!;
    const urls = new SignedUrls(keys, 'https://cdn.example.com', 60);
    const signed = urls.sign('https://cdn.example.com/img/x/thumb');
    expect(urls.verify(signed.slice('https://cdn.example.com'.length)).ok).toBe(true);
  });

  it('accepts a verify-only origin: key pair id and public key without the private key', () => {
    const config = loadConfig({
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'KVERIFY',
      DARKROOM_CLOUDFRONT_PUBLIC_KEY: publicPem,
    });
    expect(config.delivery.cloudfront).toMatchObject({ privateKeyPem: undefined });
    expect(new SignedUrls(config.delivery.cloudfront!, 'https://x', 60).signer).toBeUndefined();
  });

  it('stops start-up on a bad PEM, naming the variable', () => {
    const notPem = configError({
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'K',
      DARKROOM_CLOUDFRONT_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----',
    });
    expect(notPem.message).toMatch(/DARKROOM_CLOUDFRONT_PRIVATE_KEY: not a usable RSA private key/);

    const missingFile = configError({
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'K',
      DARKROOM_CLOUDFRONT_PRIVATE_KEY: path.join(dir, 'nope.pem'),
    });
    expect(missingFile.message).toMatch(
      /DARKROOM_CLOUDFRONT_PRIVATE_KEY: not PEM text and not a readable file/,
    );

    const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const notRsa = configError({
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'K',
      DARKROOM_CLOUDFRONT_PRIVATE_KEY: ec.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    });
    expect(notRsa.message).toMatch(/DARKROOM_CLOUDFRONT_PRIVATE_KEY: .*CloudFront needs RSA/);

    const badPublic = configError({
      DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'K',
      DARKROOM_CLOUDFRONT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----',
    });
    expect(badPublic.message).toMatch(/DARKROOM_CLOUDFRONT_PUBLIC_KEY: not a usable public key/);
  });

  it('stops start-up on half a key pair or an out-of-range TTL, naming the variables', () => {
    expect(configError({ DARKROOM_CLOUDFRONT_PRIVATE_KEY: privatePem }).message).toMatch(
      /DARKROOM_CLOUDFRONT_KEY_PAIR_ID/,
    );
    expect(configError({ DARKROOM_CLOUDFRONT_KEY_PAIR_ID: 'K' }).message).toMatch(
      /DARKROOM_CLOUDFRONT_PRIVATE_KEY/,
    );
    expect(configError({ DARKROOM_SIGNED_URL_TTL_SECONDS: '0' }).message).toMatch(
      /DARKROOM_SIGNED_URL_TTL_SECONDS/,
    );
  });
});
