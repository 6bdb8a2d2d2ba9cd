// Operational routes: health, OpenAPI document and UI, Prometheus metrics, JSON 404s.
import { describe, expect, it } from 'vitest';
import { apiError, DATABASES, intentBody, newOwner, putIntent, useApi } from './support.ts';

describe.each(DATABASES)('operational routes (%s)', (kind) => {
  const api = useApi(kind);

  it('GET /healthz reports database and storage ok, without authentication', async () => {
    const res = await api().call('GET', '/healthz');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'ok', checks: { database: 'ok', storage: 'ok' } });
  });

  it('GET /openapi.json is an OpenAPI 3 document with the upload and image paths', async () => {
    const res = await api().call('GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = res.json as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    // Fastify's :id becomes OpenAPI's {id}.
    for (const path of [
      '/v1/uploads',
      '/v1/uploads/{id}',
      '/v1/uploads/{id}/parts',
      '/v1/uploads/{id}/complete',
      '/v1/images',
      '/v1/images/{id}',
      '/healthz',
    ]) {
      expect(Object.keys(doc.paths), path).toContain(path);
    }
    expect(Object.keys(doc.paths['/v1/uploads']!)).toContain('post');
    expect(Object.keys(doc.paths['/v1/images/{id}']!).sort()).toEqual(['delete', 'get']);
  });

  it('GET /docs serves the API reference as HTML', async () => {
    const res = await fetch(`${api().url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await res.text()).toMatch(/<html/i);
  });

  it('GET /metrics counts requests and upload intents by method and outcome', async () => {
    const owner = newOwner();
    await putIntent(api(), owner, 10);
    await api().call('POST', '/v1/uploads', {
      as: owner,
      body: intentBody(10, { contentType: 'text/html' }),
    });
    const res = await fetch(`${api().url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      /^darkroom_http_requests_total\{[^}]*route="\/v1\/uploads"[^}]*status="201"[^}]*\} \d+$/m,
    );
    expect(text).toMatch(/^darkroom_upload_intents_total\{method="put",outcome="issued"\} [1-9]\d*$/m);
    expect(text).toMatch(/^darkroom_upload_intents_total\{[^}]*outcome="unsupported_type"[^}]*\} [1-9]\d*$/m);
    expect(text).toContain('darkroom_http_request_duration_seconds_bucket');
  });

  it('answers an unknown route with a 404 JSON error', async () => {
    for (const [method, path] of [
      ['GET', '/no/such/route'],
      ['POST', '/v1/nothing'],
      ['PUT', '/v1/images'],
    ] as const) {
      const res = await api().call(method, path, { as: 'alice' });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(apiError(res).code).toBe('not_found');
    }
  });
});
