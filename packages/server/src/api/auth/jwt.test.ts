import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiErrorCode } from '@darkroom/contract';
import {
  base64url,
  type CryptoKey,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Config, loadConfig } from '../../config.ts';
import { runTokenCommand } from '../../roles/token.ts';
import { ApiError } from '../errors.ts';
import { createTokenVerifier, mintToken, parseDuration } from './jwt.ts';

const SECRET = 'test-secret-at-least-16-chars';
const now = () => Math.floor(Date.now() / 1000);

function jwtConfig(overrides: Partial<Config['jwt']> = {}): Config['jwt'] {
  return {
    secret: SECRET,
    usingDevSecret: false,
    jwksUrl: undefined,
    issuer: undefined,
    audience: undefined,
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<ApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApiError);
  return err as ApiError;
}

async function expectApiError(
  promise: Promise<unknown>,
  code: ApiErrorCode,
  message?: RegExp,
): Promise<void> {
  const err = await rejection(promise);
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
}

function signHs256(claims: JWTPayload, secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));
}

describe('HS256 verifier', () => {
  const verifier = createTokenVerifier(jwtConfig());

  it('accepts a valid token and returns its sub', async () => {
    const token = await mintToken(SECRET, { sub: 'user-1', ttlSeconds: 60 });
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toEqual({ sub: 'user-1' });
    await expect(verifier.verify(`bearer ${token}`)).resolves.toEqual({ sub: 'user-1' });
  });

  it('trusts a token it verified again, but only that exact token', async () => {
    const token = await mintToken(SECRET, { sub: 'cached', ttlSeconds: 60 });
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toEqual({ sub: 'cached' });
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toEqual({ sub: 'cached' });
    const [h, p, sig] = token.split('.');
    const forged = `${h}.${p}.${sig!.slice(0, -2)}${sig!.endsWith('AA') ? 'BB' : 'AA'}`;
    await expectApiError(verifier.verify(`Bearer ${forged}`), 'invalid_token');
    const otherSub = await signHs256({ sub: 'cached', exp: now() + 60 }, 'another-secret-16chars');
    await expectApiError(verifier.verify(`Bearer ${otherSub}`), 'invalid_token');
  });

  it('reports an expired token as token_expired', async () => {
    const token = await signHs256({ sub: 'u', exp: now() - 120 });
    await expectApiError(verifier.verify(`Bearer ${token}`), 'token_expired', /expired at \d{4}-/);
  });

  it('allows 30 s of clock skew', async () => {
    const token = await signHs256({ sub: 'u', exp: now() - 10 });
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toEqual({ sub: 'u' });
  });

  it('refuses a token signed with another secret', async () => {
    const token = await mintToken('another-secret-of-16-chars', { sub: 'u', ttlSeconds: 60 });
    const err = await rejection(verifier.verify(`Bearer ${token}`));
    expect(err.code).toBe('invalid_token');
    expect(err.message).toMatch(/signature/);
    expect(err.message).not.toContain(SECRET);
  });

  it('refuses an unsigned alg:none token', async () => {
    const header = base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }));
    const payload = base64url.encode(JSON.stringify({ sub: 'admin', exp: now() + 60 }));
    await expectApiError(verifier.verify(`Bearer ${header}.${payload}.`), 'invalid_token', /alg "none"/);
  });

  it('refuses an RS256 token', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await new SignJWT({ sub: 'u', exp: now() + 60 })
      .setProtectedHeader({ alg: 'RS256' })
      .sign(privateKey);
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /"RS256".*accepted: HS256/);
  });

  it('requires exp', async () => {
    const token = await signHs256({ sub: 'u' });
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /no "exp" claim/);
  });

  it('explains a non-numeric exp', async () => {
    const token = await signHs256({ sub: 'u', exp: 'tomorrow' } as unknown as JWTPayload);
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /"exp" claim must be a number/);
  });

  it('requires a non-empty sub', async () => {
    await expectApiError(
      verifier.verify(`Bearer ${await signHs256({ exp: now() + 60 })}`),
      'invalid_token',
      /"sub"/,
    );
    await expectApiError(
      verifier.verify(`Bearer ${await signHs256({ sub: '', exp: now() + 60 })}`),
      'invalid_token',
      /"sub" claim must be a non-empty string/,
    );
  });

  it('refuses malformed tokens', async () => {
    await expectApiError(verifier.verify('Bearer not-a-jwt'), 'invalid_token', /malformed/);
    await expectApiError(verifier.verify('Bearer a.b.c'), 'invalid_token', /malformed/);
  });

  it('asks for credentials when the header is missing or not Bearer', async () => {
    await expectApiError(verifier.verify(undefined), 'unauthorized');
    await expectApiError(verifier.verify(''), 'unauthorized');
    await expectApiError(verifier.verify('Bearer'), 'unauthorized', /no token/);
    await expectApiError(
      verifier.verify('Basic dXNlcjpwYXNz'),
      'unauthorized',
      /Bearer scheme \(got "Basic"\)/,
    );
    const bare = await rejection(verifier.verify(await mintToken(SECRET, { sub: 'u', ttlSeconds: 60 })));
    expect(bare.code).toBe('unauthorized');
    expect(bare.message).not.toMatch(/got/);
  });
});

describe('issuer and audience', () => {
  const verifier = createTokenVerifier(jwtConfig({ issuer: 'https://id.example', audience: 'darkroom' }));
  const claims = { sub: 'u', ttlSeconds: 60, issuer: 'https://id.example', audience: 'darkroom' };

  it('accepts matching claims', async () => {
    const token = await mintToken(SECRET, claims);
    await expect(verifier.verify(`Bearer ${token}`)).resolves.toEqual({ sub: 'u' });
  });

  it('refuses another issuer', async () => {
    const token = await mintToken(SECRET, { ...claims, issuer: 'https://evil.example' });
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /issuer.*evil\.example/);
  });

  it('refuses another audience', async () => {
    const token = await mintToken(SECRET, { ...claims, audience: 'other-app' });
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /audience.*other-app/);
  });

  it('refuses a token without issuer', async () => {
    const token = await mintToken(SECRET, { sub: 'u', ttlSeconds: 60, audience: 'darkroom' });
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /no "iss" claim/);
  });
});

describe('JWKS verifier', () => {
  let server: http.Server;
  let jwksUrl: string;
  let fetches = 0;
  let rsa: { privateKey: CryptoKey; publicKey: CryptoKey };
  let ec: { privateKey: CryptoKey; publicKey: CryptoKey };

  beforeAll(async () => {
    rsa = await generateKeyPair('RS256');
    ec = await generateKeyPair('ES256');
    const keys = [
      { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
    ];
    server = http.createServer((_req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const sign = (key: CryptoKey, alg: string, kid: string, claims: JWTPayload = { sub: 'idp-user' }) =>
    new SignJWT({ exp: now() + 60, ...claims }).setProtectedHeader({ alg, kid }).sign(key);

  it('accepts RS256 and ES256 tokens, fetching the key set once', async () => {
    const verifier = createTokenVerifier(jwtConfig({ secret: undefined, jwksUrl }));
    const before = fetches;
    await expect(verifier.verify(`Bearer ${await sign(rsa.privateKey, 'RS256', 'rsa-1')}`)).resolves.toEqual({
      sub: 'idp-user',
    });
    await expect(verifier.verify(`Bearer ${await sign(ec.privateKey, 'ES256', 'ec-1')}`)).resolves.toEqual({
      sub: 'idp-user',
    });
    expect(fetches - before).toBe(1);
  });

  it('refuses an unknown kid', async () => {
    const verifier = createTokenVerifier(jwtConfig({ secret: undefined, jwksUrl }));
    const token = await sign(rsa.privateKey, 'RS256', 'rotated-away');
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /kid "rotated-away"/);
  });

  it('refuses a token signed by a key outside the set', async () => {
    const verifier = createTokenVerifier(jwtConfig({ secret: undefined, jwksUrl }));
    const stranger = await generateKeyPair('RS256');
    const token = await sign(stranger.privateKey, 'RS256', 'rsa-1');
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /signature/);
  });

  it('refuses HS256, including one keyed with the RSA public key (algorithm confusion)', async () => {
    const verifier = createTokenVerifier(jwtConfig({ secret: undefined, jwksUrl }));
    const pem = await exportSPKI(rsa.publicKey);
    const forged = await new SignJWT({ sub: 'admin', exp: now() + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .sign(new TextEncoder().encode(pem));
    await expectApiError(verifier.verify(`Bearer ${forged}`), 'invalid_token', /"HS256".*not accept/);
    const plain = await mintToken(SECRET, { sub: 'u', ttlSeconds: 60 });
    await expectApiError(verifier.verify(`Bearer ${plain}`), 'invalid_token', /"HS256"/);
  });

  it('with both a secret and a JWKS, lets the alg pick the key', async () => {
    const verifier = createTokenVerifier(jwtConfig({ jwksUrl }));
    const hs = await mintToken(SECRET, { sub: 'local', ttlSeconds: 60 });
    await expect(verifier.verify(`Bearer ${hs}`)).resolves.toEqual({ sub: 'local' });
    await expect(verifier.verify(`Bearer ${await sign(rsa.privateKey, 'RS256', 'rsa-1')}`)).resolves.toEqual({
      sub: 'idp-user',
    });
    const forged = await new SignJWT({ sub: 'admin', exp: now() + 60 })
      .setProtectedHeader({ alg: 'HS256', kid: 'rsa-1' })
      .sign(new TextEncoder().encode(await exportSPKI(rsa.publicKey)));
    await expectApiError(verifier.verify(`Bearer ${forged}`), 'invalid_token', /signature/);
  });

  it('reports expiry and missing sub', async () => {
    const verifier = createTokenVerifier(jwtConfig({ secret: undefined, jwksUrl }));
    const expired = await sign(ec.privateKey, 'ES256', 'ec-1', { sub: 'u', exp: now() - 600 });
    await expectApiError(verifier.verify(`Bearer ${expired}`), 'token_expired');
    const noSub = await sign(ec.privateKey, 'ES256', 'ec-1', {});
    await expectApiError(verifier.verify(`Bearer ${noSub}`), 'invalid_token', /"sub"/);
  });

  it('reports an unreachable JWKS as invalid_token', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const verifier = createTokenVerifier(
      jwtConfig({ secret: undefined, jwksUrl: `http://127.0.0.1:${port}/jwks` }),
    );
    const token = await sign(rsa.privateKey, 'RS256', 'rsa-1');
    await expectApiError(verifier.verify(`Bearer ${token}`), 'invalid_token', /could not fetch signing keys/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['90s', 90],
    ['15m', 900],
    ['1h', 3600],
    ['7d', 604_800],
    ['3600', 3600],
    [' 2H ', 7200],
  ])('%s → %d', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', '0', '1.5h', '-5m', '10w', 'h', '1 hour', '99999999999999999999d'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/Invalid duration.*e\.g\. 90s/);
  });
});

describe('runTokenCommand', () => {
  it('mints a token the verifier accepts, with exp ≈ now + ttl', async () => {
    const config = loadConfig({
      DARKROOM_JWT_SECRET: SECRET,
      DARKROOM_JWT_ISSUER: 'darkroom-cli',
      DARKROOM_JWT_AUDIENCE: 'darkroom-api',
    });
    const result = await runTokenCommand(config, { sub: 'alice', ttl: '2h' });
    expect(result.usingDevSecret).toBe(false);
    expect(Math.abs(result.expiresAt.getTime() / 1000 - (now() + 7200))).toBeLessThanOrEqual(2);
    await expect(createTokenVerifier(config.jwt).verify(`Bearer ${result.token}`)).resolves.toEqual({
      sub: 'alice',
    });
  });

  it('flags the development secret', async () => {
    const result = await runTokenCommand(loadConfig({}), { sub: 'alice', ttl: '15m' });
    expect(result.usingDevSecret).toBe(true);
  });

  it('refuses in JWKS mode and on a bad ttl', async () => {
    const jwks = loadConfig({ DARKROOM_JWT_JWKS_URL: 'https://id.example/.well-known/jwks.json' });
    await expect(runTokenCommand(jwks, { sub: 'alice', ttl: '1h' })).rejects.toThrow(/identity provider/);
    const hs = loadConfig({ DARKROOM_JWT_SECRET: SECRET });
    await expect(runTokenCommand(hs, { sub: 'alice', ttl: 'forever' })).rejects.toThrow(/Invalid duration/);
    await expect(runTokenCommand(hs, { sub: ' ', ttl: '1h' })).rejects.toThrow(/--sub/);
  });
});
