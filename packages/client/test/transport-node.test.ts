// The Node transport's POST form bodies, read back by a multipart parser (undici's, as fetch has it):
// every field arrives under its name as a browser would send it, and the file arrives last and whole.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeTransport } from '../src/transport-node.ts';

let server: http.Server;
let url: string;
let last: { contentType: string; body: Buffer } | undefined;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      last = { contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) };
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bucket`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Sends a POST form through the Node transport and parses what the server received. */
async function roundTrip(fields: Record<string, string>, file: Blob) {
  let progress = 0;
  const res = await nodeTransport({
    method: 'POST',
    url,
    body: file,
    fields,
    onProgress: (sent) => {
      progress = sent;
    },
  });
  expect(res.status).toBe(204);
  expect(progress).toBe(file.size);
  const form = await new Response(new Uint8Array(last!.body), {
    headers: { 'content-type': last!.contentType },
  }).formData();
  return { form, raw: last!.body };
}

describe('nodeTransport POST forms', () => {
  it('sends the fields, then the file last, named file with the declared type', async () => {
    const file = new Blob([new Uint8Array(70_000).fill(7)]);
    const { form } = await roundTrip({ key: 'uploads/a', 'Content-Type': 'image/png', Policy: 'eyJ9' }, file);
    expect([...form.keys()]).toEqual(['key', 'Content-Type', 'Policy', 'file']);
    expect(form.get('key')).toBe('uploads/a');
    const sent = form.get('file') as File;
    expect(sent.type).toBe('image/png');
    expect(Buffer.from(await sent.arrayBuffer()).equals(Buffer.from(await file.arrayBuffer()))).toBe(true);
  });

  it('escapes field names as browsers do: a quote or a line break cannot end the name or add a header', async () => {
    const evil = 'x"\r\nContent-Type: text/html\r\n\r\n<b>';
    const { form, raw } = await roundTrip({ [evil]: 'v', 'a"b': 'w' }, new Blob(['bytes']));
    // On the wire as %22, %0D and %0A; a spec-following parser reads the names back exactly.
    expect(raw.toString('latin1')).toContain('name="x%22%0D%0AContent-Type: text/html%0D%0A%0D%0A<b>"');
    expect(raw.toString('latin1')).not.toContain('Content-Type: text/html\r\n');
    expect([...form.keys()]).toEqual([evil, 'a"b', 'file']);
    expect(form.get(evil)).toBe('v');
    expect(form.get('a"b')).toBe('w');
  });
});
