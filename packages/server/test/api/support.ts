// Shared helpers for the upload API integration tests: one running API per database kind, typed
// intents, raw uploads through the returned URLs with plain fetch, and storage inspection.
import { createHash, randomUUID } from 'node:crypto';
import { GetObjectTaggingCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { PostUpload, PutUpload, UploadInstructions } from '@darkroom/contract';
import { afterAll, beforeAll, expect } from 'vitest';
import { type DbKind, startTestApi, type TestApi } from '../helpers/api.ts';

/** Every behaviour runs against both metadata databases. */
export const DATABASES = ['sqlite', 'postgres'] as const satisfies readonly DbKind[];

export const MiB = 1024 * 1024;

/**
 * Starts an API (embedded S3 + a fresh database) in beforeAll and stops it in afterAll; call at
 * describe level. The returned getter fails loudly if used outside a test.
 */
export function useApi(kind: DbKind, env: Record<string, string> = {}): () => TestApi {
  let api: TestApi | undefined;
  beforeAll(async () => {
    api = await startTestApi(kind, env);
  });
  afterAll(async () => {
    await api?.stop();
  });
  return () => {
    if (!api) throw new Error('the API is not running (use it inside a test)');
    return api;
  };
}

/** A caller no other test uses, so per-owner limits and listings start empty. */
export function newOwner(prefix = 'user'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export interface IntentBody {
  filename?: unknown;
  contentType?: unknown;
  size?: unknown;
  sha256?: unknown;
  thumbhash?: unknown;
  visibility?: unknown;
  method?: unknown;
  [extra: string]: unknown;
}

/** A valid intent body for `size` bytes of JPEG, with `overrides` applied. */
export function intentBody(size: number, overrides: IntentBody = {}): IntentBody {
  return { filename: 'photo.jpg', contentType: 'image/jpeg', size, ...overrides };
}

/** POST /v1/uploads that must succeed (201); returns the id and the upload instructions. */
export async function createIntent<U extends UploadInstructions = UploadInstructions>(
  api: TestApi,
  as: string,
  body: IntentBody,
): Promise<{ id: string; upload: U }> {
  const res = await api.call('POST', '/v1/uploads', { as, body });
  expect(res.status, JSON.stringify(res.json)).toBe(201);
  const image = res.json.image as { id: string; status: string };
  expect(image.status).toBe('pending');
  return { id: image.id, upload: res.json.upload as U };
}

/** A PUT intent for `size` bytes (the default method below the multipart threshold). */
export function putIntent(api: TestApi, as: string, size: number, overrides: IntentBody = {}) {
  return createIntent<PutUpload>(api, as, intentBody(size, overrides));
}

/** Sends `body` to a presigned PUT URL with the returned headers (plus `headers`). */
export function putTo(upload: PutUpload, body: Uint8Array, headers: Record<string, string> = {}) {
  return fetch(upload.url, { method: 'PUT', headers: { ...upload.headers, ...headers }, body: copy(body) });
}

/** Sends `body` to a presigned part URL (no headers: only its length is signed). */
export function putPart(url: string, body: Uint8Array) {
  return fetch(url, { method: 'PUT', body: copy(body) });
}

/** A copy over a plain ArrayBuffer, which is what fetch's BodyInit type accepts (a Buffer may not be). */
function copy(data: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(data);
}

/** Submits a browser-style POST form: the returned fields (with `overrides`), then the file last. */
export function postTo(upload: PostUpload, file: Uint8Array, overrides: Record<string, string> = {}) {
  const form = new FormData();
  for (const [k, v] of Object.entries({ ...upload.fields, ...overrides })) form.append(k, v);
  form.append('file', new Blob([copy(file)]), 'photo.bin');
  return fetch(upload.url, { method: 'POST', body: form });
}

/** The `<Code>` of an S3 XML error response. */
export async function s3Code(res: Response): Promise<string | undefined> {
  return /<Code>([^<]+)<\/Code>/.exec(await res.text())?.[1];
}

const clients = new WeakMap<TestApi, S3Client>();

/** One SDK client per API, only to look at what reached storage. */
export function storageClient(api: TestApi): S3Client {
  let c = clients.get(api);
  if (!c) {
    c = api.s3.client();
    clients.set(api, c);
  }
  return c;
}

/** HeadObject on `key`: 200 with its size, or the error status (404 when absent). */
export async function headObject(api: TestApi, key: string): Promise<{ status: number; size?: number }> {
  try {
    const res = await storageClient(api).send(
      new HeadObjectCommand({ Bucket: api.config.s3.bucket, Key: key }),
    );
    return { status: 200, size: res.ContentLength ?? 0 };
  } catch (err) {
    return { status: (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0 };
  }
}

/** The tags storage holds on `key`, as `key=value` strings. */
export async function tagsOf(api: TestApi, key: string): Promise<string[]> {
  const res = await storageClient(api).send(
    new GetObjectTaggingCommand({ Bucket: api.config.s3.bucket, Key: key }),
  );
  return (res.TagSet ?? []).map((t) => `${t.Key}=${t.Value}`);
}

export function sha256(data: Uint8Array, encoding: 'hex' | 'base64'): string {
  return createHash('sha256').update(data).digest(encoding);
}

/** Checks the `{ error: { code, message } }` shape and returns the code and message. */
export function apiError(res: { status: number; json: Record<string, unknown> }): {
  code: string;
  message: string;
} {
  expect(Object.keys(res.json)).toEqual(['error']);
  const error = res.json.error as { code: unknown; message: unknown };
  expect(Object.keys(error).sort()).toEqual(['code', 'message']);
  expect(typeof error.code).toBe('string');
  expect(typeof error.message).toBe('string');
  expect((error.message as string).length).toBeGreaterThan(0);
  return { code: error.code as string, message: error.message as string };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
