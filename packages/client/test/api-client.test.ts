import { describe, expect, it } from 'vitest';
import { ApiClient } from '../src/api-client.ts';
import { UploadError } from '../src/errors.ts';
import { retryPolicy } from '../src/retry.ts';

const policy = retryPolicy({ attempts: 3, baseDelayMs: 1, maxDelayMs: 2 });

function respond(...answers: (Response | Error)[]) {
  const calls: { url: string; init: RequestInit | undefined }[] = [];
  const fetchImpl: typeof fetch = async (input, init) => {
    calls.push({ url: String(input), init });
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    if (next instanceof Error) throw next;
    return next;
  };
  return { fetchImpl, calls };
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });

describe('ApiClient', () => {
  it('passes the server error code and message through, without retrying a 4xx', async () => {
    const { fetchImpl, calls } = respond(
      json(415, {
        error: { code: 'unsupported_type', message: "body/contentType 'image/bmp' is not accepted" },
      }),
    );
    const api = new ApiClient('http://api/', 'tok', policy, fetchImpl);
    const err = (await api
      .createUpload({ filename: 'a.bmp', contentType: 'image/bmp', size: 1 })
      .catch((e: unknown) => e)) as UploadError;
    expect(err).toBeInstanceOf(UploadError);
    expect(err).toMatchObject({ code: 'unsupported_type', status: 415 });
    expect(err.message).toBe("body/contentType 'image/bmp' is not accepted");
    expect(calls).toHaveLength(1);
    expect(calls[0]!.url).toBe('http://api/v1/uploads');
    expect((calls[0]!.init!.headers as Record<string, string>).authorization).toBe('Bearer tok');
  });

  it('retries network errors and 503 (calling the token function each time), then succeeds', async () => {
    const { fetchImpl, calls } = respond(
      new TypeError('fetch failed'),
      json(503, { error: { code: 'storage_unavailable', message: 'later' } }, { 'retry-after': '0' }),
      json(200, { id: 'x', status: 'ready' }),
    );
    let tokens = 0;
    const api = new ApiClient('http://api', async () => `t${++tokens}`, policy, fetchImpl);
    await expect(api.getImage('x')).resolves.toMatchObject({ id: 'x', status: 'ready' });
    expect(calls.map((c) => (c.init!.headers as Record<string, string>).authorization)).toEqual([
      'Bearer t1',
      'Bearer t2',
      'Bearer t3',
    ]);
  });

  it('reports an unreachable server as network_error with a readable message, and a non-JSON error generically', async () => {
    const down = respond(
      new TypeError('fetch failed'),
      new TypeError('fetch failed'),
      new TypeError('fetch failed'),
    );
    const err = (await new ApiClient('http://api', 't', policy, down.fetchImpl)
      .getImage('x')
      .catch((e: unknown) => e)) as UploadError;
    expect(err).toMatchObject({ code: 'network_error', message: 'Could not reach the server (http://api).' });

    const proxy = respond(
      new Response('<html>Bad Gateway</html>', { status: 400, statusText: 'Bad Request' }),
    );
    const err2 = (await new ApiClient('http://api', 't', policy, proxy.fetchImpl)
      .getImage('x')
      .catch((e: unknown) => e)) as UploadError;
    expect(err2).toMatchObject({
      code: 'http_error',
      status: 400,
      message: 'The server answered 400 Bad Request',
    });
  });

  it('keeps Retry-After of a 429 on the error when it is too long to wait', async () => {
    const { fetchImpl, calls } = respond(
      json(429, { error: { code: 'quota_exceeded', message: 'full' } }, { 'retry-after': '3600' }),
    );
    const err = (await new ApiClient('http://api', 't', policy, fetchImpl)
      .createUpload({ filename: 'a', contentType: 'image/png', size: 1 })
      .catch((e: unknown) => e)) as UploadError;
    expect(err).toMatchObject({ code: 'quota_exceeded', status: 429, retryAfter: 3600 });
    expect(calls).toHaveLength(1);
  });
});
