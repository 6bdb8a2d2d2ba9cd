import { type Image, type MultipartUpload, originalKey } from '@darkroom/contract';
// Authentication (bearer JWTs) and owner isolation: another caller's image does not exist for you.

import { bytes } from '@darkroom/s3-server/test-support';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { JWT_SECRET } from '../helpers/api.ts';
import {
  apiError,
  createIntent,
  DATABASES,
  headObject,
  intentBody,
  MiB,
  newOwner,
  putIntent,
  putTo,
  useApi,
} from './support.ts';

const secret = (s: string) => new TextEncoder().encode(s);

/** An HS256 token with the given claims (exp/iat in epoch seconds), signed with `key`. */
function signed(claims: { sub?: string; exp?: number; iat?: number }, key = JWT_SECRET): Promise<string> {
  let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' });
  if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
  if (claims.iat !== undefined) jwt = jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
  return jwt.sign(secret(key));
}

const now = () => Math.floor(Date.now() / 1000);

describe.each(DATABASES)('authentication (%s)', (kind) => {
  const api = useApi(kind);

  async function listWith(authorization?: string) {
    return api().call('GET', '/v1/images', authorization === undefined ? {} : { headers: { authorization } });
  }

  it('refuses a request without an Authorization header: 401 unauthorized', async () => {
    const res = await listWith();
    expect(res.status).toBe(401);
    expect(apiError(res).code).toBe('unauthorized');
    // The intent route is protected too, and nothing is recorded.
    const create = await api().call('POST', '/v1/uploads', { body: intentBody(10) });
    expect(create.status).toBe(401);
    expect(apiError(create).code).toBe('unauthorized');
  });

  it('refuses another scheme or an empty bearer: 401 unauthorized', async () => {
    for (const header of ['Basic YWxpY2U6cGFzcw==', 'Bearer', 'Bearer ']) {
      const res = await listWith(header);
      expect(res.status, header).toBe(401);
      expect(apiError(res).code, header).toBe('unauthorized');
    }
  });

  it('refuses a garbage token: 401 invalid_token', async () => {
    for (const garbage of ['not-a-jwt', 'a.b.c', 'eyJhbGciOiJIUzI1NiJ9.e30']) {
      const res = await listWith(`Bearer ${garbage}`);
      expect(res.status, garbage).toBe(401);
      expect(apiError(res).code, garbage).toBe('invalid_token');
    }
  });

  it('refuses an expired token: 401 token_expired', async () => {
    // Beyond the server's clock tolerance (30 s), so a ttl-1 token and a short wait would not do.
    const token = await signed({ sub: 'alice', iat: now() - 600, exp: now() - 120 });
    const res = await listWith(`Bearer ${token}`);
    expect(res.status).toBe(401);
    const { code, message } = apiError(res);
    expect(code).toBe('token_expired');
    expect(message).toMatch(/expired/);
  });

  it('refuses a token signed with another secret: 401 invalid_token', async () => {
    const token = await signed({ sub: 'alice', exp: now() + 600 }, 'some-other-secret-0123456789abcdef');
    const res = await listWith(`Bearer ${token}`);
    expect(res.status).toBe(401);
    expect(apiError(res).code).toBe('invalid_token');
  });

  it('refuses a token without exp or without sub, and an unsigned (alg none) one: 401 invalid_token', async () => {
    const noExp = await signed({ sub: 'alice' });
    const noSub = await signed({ exp: now() + 600 });
    const payload = Buffer.from(JSON.stringify({ sub: 'alice', exp: now() + 600 })).toString('base64url');
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    for (const token of [noExp, noSub, unsigned]) {
      const res = await listWith(`Bearer ${token}`);
      expect(res.status).toBe(401);
      expect(apiError(res).code).toBe('invalid_token');
    }
  });

  it('accepts a sub of up to 255 characters as an owner, and refuses a longer one with 401 invalid_token', async () => {
    // Owners are stored in a varchar(255): a longer sub must be refused up front on both databases,
    // not fail inside PostgreSQL with a 500.
    const longest = 'é'.repeat(255);
    const ok = await api().call('POST', '/v1/uploads', { as: longest, body: intentBody(10) });
    expect(ok.status, JSON.stringify(ok.json)).toBe(201);
    const tooLong = await api().call('POST', '/v1/uploads', { as: 'u'.repeat(256), body: intentBody(10) });
    expect(tooLong.status).toBe(401);
    const { code, message } = apiError(tooLong);
    expect(code).toBe('invalid_token');
    expect(message).toContain('sub');
  });

  it('accepts a valid token (with a case-insensitive scheme) and scopes the request to its sub', async () => {
    const owner = newOwner();
    const token = await api().token(owner);
    const res = await listWith(`bearer ${token}`);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ images: [], nextCursor: null });
  });
});

describe.each(DATABASES)('owner isolation (%s)', (kind) => {
  const api = useApi(kind, {
    DARKROOM_MULTIPART_THRESHOLD: String(5 * MiB),
    DARKROOM_MULTIPART_PART_SIZE: String(5 * MiB),
  });

  it("answers 404 (not 403) for every route on another owner's pending multipart upload, changing nothing", async () => {
    const alice = newOwner('alice');
    const bob = newOwner('bob');
    const { id } = await createIntent<MultipartUpload>(api(), alice, intentBody(11 * MiB));

    const attempts = [
      await api().call('GET', `/v1/images/${id}`, { as: bob }),
      await api().call('POST', `/v1/uploads/${id}/parts`, { as: bob, body: { partNumbers: [1] } }),
      await api().call('POST', `/v1/uploads/${id}/complete`, {
        as: bob,
        body: { parts: [{ partNumber: 1, etag: '"abc"' }] },
      }),
      await api().call('DELETE', `/v1/uploads/${id}`, { as: bob }),
      await api().call('DELETE', `/v1/images/${id}`, { as: bob }),
    ];
    for (const res of attempts) {
      expect(res.status).toBe(404);
      expect(apiError(res).code).toBe('not_found');
    }
    // Indistinguishable from an id that does not exist at all.
    const missing = await api().call('GET', `/v1/images/${crypto.randomUUID()}`, { as: bob });
    expect(missing.status).toBe(404);
    expect(apiError(missing).message).not.toContain(alice);

    // Alice's upload is untouched: still pending, and she can still presign her parts.
    const still = await api().call('GET', `/v1/images/${id}`, { as: alice });
    expect(still.status).toBe(200);
    expect((still.json as unknown as Image).status).toBe('pending');
    const parts = await api().call('POST', `/v1/uploads/${id}/parts`, {
      as: alice,
      body: { partNumbers: [1] },
    });
    expect(parts.status).toBe(200);
  });

  it('answers 404 when another owner deletes or completes an uploaded image, and the bytes stay', async () => {
    const alice = newOwner('alice');
    const bob = newOwner('bob');
    const body = bytes(64);
    const { id, upload } = await putIntent(api(), alice, body.length);
    expect((await putTo(upload, body)).status).toBe(200);
    expect((await api().call('POST', `/v1/uploads/${id}/complete`, { as: bob })).status).toBe(404);
    expect((await api().call('DELETE', `/v1/images/${id}`, { as: bob })).status).toBe(404);
    expect((await api().call('GET', `/v1/images/${id}`, { as: bob })).status).toBe(404);
    expect(await headObject(api(), originalKey(id))).toEqual({ status: 200, size: body.length });
    const mine = await api().call('POST', `/v1/uploads/${id}/complete`, { as: alice });
    expect(mine.status).toBe(200);
    expect((mine.json as unknown as Image).status).toBe('uploaded');
  });

  it("never lists another owner's images", async () => {
    const alice = newOwner('alice');
    const bob = newOwner('bob');
    const aliceIds = [];
    for (let i = 0; i < 3; i++) aliceIds.push((await putIntent(api(), alice, 10)).id);
    const bobId = (await putIntent(api(), bob, 10)).id;

    const bobs = await api().call('GET', '/v1/images?limit=100', { as: bob });
    expect(bobs.status).toBe(200);
    const bobList = (bobs.json.images as Image[]).map((i) => i.id);
    expect(bobList).toEqual([bobId]);

    const alices = await api().call('GET', '/v1/images?limit=100', { as: alice });
    expect((alices.json.images as Image[]).map((i) => i.id).sort()).toEqual([...aliceIds].sort());
  });
});
