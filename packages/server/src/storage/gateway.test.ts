import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../config.ts';
import { StorageGateway } from './gateway.ts';
import { createS3Clients } from './s3-client.ts';

/** Presigned URLs as AWS would get them (no network: presigning is local). */
function gatewayFor(env: Record<string, string>) {
  const config = loadConfig({
    DARKROOM_S3_BUCKET: 'photos-prod',
    DARKROOM_S3_REGION: 'eu-west-1',
    DARKROOM_S3_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    DARKROOM_S3_SECRET_ACCESS_KEY: 'secret-example',
    ...env,
  });
  const { client, presigner } = createS3Clients(config);
  return new StorageGateway(client, presigner, config.s3.bucket);
}

describe('presigned URL endpoints', () => {
  it('uses the S3 Transfer Acceleration endpoint when DARKROOM_S3_ACCELERATE=true', async () => {
    const gw = gatewayFor({
      DARKROOM_S3_ENDPOINT: 'https://s3.amazonaws.com',
      DARKROOM_S3_ACCELERATE: 'true',
    });
    const { url } = await gw.presignPut({
      key: 'uploads/abc',
      contentType: 'image/jpeg',
      contentLength: 10,
      expiresIn: 60,
    });
    const u = new URL(url);
    expect(u.host).toBe('photos-prod.s3-accelerate.amazonaws.com');
    expect(u.pathname).toBe('/uploads/abc');
    // Only what the client sends anyway is signed: no tagging header is asked of it.
    expect(u.searchParams.get('X-Amz-SignedHeaders')).toBe('content-length;content-type;host');
    expect(u.searchParams.get('X-Amz-Credential')).toContain('/eu-west-1/s3/aws4_request');
    const post = await gw.presignPost({
      key: 'uploads/abc',
      contentType: 'image/jpeg',
      maxBytes: 10,
      expiresIn: 60,
    });
    expect(new URL(post.url).host).toBe('photos-prod.s3-accelerate.amazonaws.com');
  });

  it('uses the regional virtual-host endpoint on AWS without acceleration', async () => {
    const gw = gatewayFor({ DARKROOM_S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com' });
    const { url } = await gw.presignPut({
      key: 'uploads/abc',
      contentType: 'image/jpeg',
      contentLength: 10,
      expiresIn: 60,
    });
    expect(new URL(url).host).toBe('photos-prod.s3.eu-west-1.amazonaws.com');
  });

  it('refuses acceleration for storage that is not Amazon S3', () => {
    expect(() =>
      gatewayFor({ DARKROOM_S3_ENDPOINT: 'http://minio:9000', DARKROOM_S3_ACCELERATE: 'true' }),
    ).toThrow(/DARKROOM_S3_ACCELERATE/);
  });

  it('signs the SHA-256 into the URL when the client declared one', async () => {
    const gw = gatewayFor({ DARKROOM_S3_ENDPOINT: 'http://127.0.0.1:9000' });
    const sha = Buffer.alloc(32, 7).toString('base64');
    const { url } = await gw.presignPut({
      key: 'uploads/abc',
      contentType: 'image/png',
      contentLength: 10,
      sha256: sha,
      expiresIn: 60,
    });
    const u = new URL(url);
    expect(u.host).toBe('127.0.0.1:9000');
    expect(u.pathname).toBe('/photos-prod/uploads/abc');
    expect(u.searchParams.get('x-amz-checksum-sha256')).toBe(sha);
    // No checksum of an empty body (the SDK default since 3.729) is ever signed in.
    expect(u.searchParams.has('x-amz-checksum-crc32')).toBe(false);
  });
});

describe('a store that refuses conditional writes (NotImplemented)', () => {
  it('writes without the condition from then on, saying so once', async () => {
    // An S3 of unknown make that answers any If-None-Match / If-Match with 501, and PUTs without one with 200.
    const seen: (string | undefined)[] = [];
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const condition = req.headers['if-none-match'] ?? req.headers['if-match'];
        seen.push(condition as string | undefined);
        if (condition) {
          res.writeHead(501, { 'content-type': 'application/xml' });
          res.end('<Error><Code>NotImplemented</Code><Message>no conditions here</Message></Error>');
        } else {
          res.writeHead(200, { etag: '"0123456789abcdef0123456789abcdef"' });
          res.end();
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    const warnings: string[] = [];
    const gw = new StorageGateway(client, client, 'b', {
      // pino's warn is overloaded; this stand-in takes the (object, message) form the gateway uses.
      log: { warn: (_: unknown, msg?: string) => void warnings.push(msg ?? '') } as never,
    });
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-gw-'));
    const file = path.join(dir, 'v.webp');
    fs.writeFileSync(file, 'variant');
    try {
      expect(await gw.putFileOnce('variants/x/thumb.webp', file, 'image/webp', undefined)).toEqual({
        written: true,
      });
      expect(await gw.putFileOnce('variants/x/small.webp', file, 'image/webp', undefined)).toEqual({
        written: true,
      });
      expect(seen).toEqual(['*', undefined, undefined]);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('refuses conditional writes');
    } finally {
      client.destroy();
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
