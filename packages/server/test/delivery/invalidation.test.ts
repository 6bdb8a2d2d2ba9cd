import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, TESTDATA, type TestStack } from '../helpers/stack.ts';

// Deleting an image invalidates its cached paths on CloudFront: the real SDK, pointed (through the standard
// AWS_ENDPOINT_URL_CLOUDFRONT setting) at a local server that speaks enough of the CloudFront API.

const DISTRIBUTION = 'EDFDVBD6EXAMPLE';

interface Seen {
  method: string;
  url: string;
  authorization: string;
  paths: string[];
  quantity: number;
}

/** The CreateInvalidation endpoint, recording requests; `answer` decides each response (hold it, or fail it). */
function fakeCloudFront() {
  const seen: Seen[] = [];
  const waiters: (() => void)[] = [];
  let answer: (n: number, respond: (status: number, xml: string) => void) => void = (_n, respond) =>
    respond(201, '');
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization ?? '',
        paths: [...body.matchAll(/<Path>([^<]*)<\/Path>/g)].map((m) => m[1]!),
        quantity: Number(/<Quantity>(\d+)<\/Quantity>/.exec(body)?.[1]),
      });
      for (const w of waiters.splice(0)) w();
      const n = seen.length;
      answer(n, (status, xml) => {
        const id = `I${n}EXAMPLE`;
        res.writeHead(status, {
          'content-type': 'text/xml',
          ...(status === 201
            ? {
                location: `https://cloudfront.amazonaws.com/2020-05-31/distribution/${DISTRIBUTION}/invalidation/${id}`,
              }
            : {}),
        });
        res.end(
          xml ||
            `<?xml version="1.0"?><Invalidation xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Id>${id}</Id><Status>InProgress</Status><CreateTime>2026-01-01T00:00:00Z</CreateTime><InvalidationBatch><Paths><Quantity>0</Quantity></Paths><CallerReference>x</CallerReference></InvalidationBatch></Invalidation>`,
        );
      });
    });
  });
  return {
    server,
    seen,
    setAnswer(fn: typeof answer) {
      answer = fn;
    },
    /** Resolves once `count` requests have arrived. */
    async requests(count: number) {
      while (seen.length < count) await new Promise<void>((r) => waiters.push(r));
      return seen.slice(0, count);
    },
  };
}

const cf = fakeCloudFront();
let stack: TestStack;
const ids: string[] = [];
const saved = { ...process.env };

beforeAll(async () => {
  await new Promise<void>((r) => cf.server.listen(0, '127.0.0.1', r));
  const { port } = cf.server.address() as AddressInfo;
  // What any AWS SDK client reads: the service endpoint and credentials of the standard chain.
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_CLOUDFRONT: `http://127.0.0.1:${port}`,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  });
  stack = await startTestStack({ DARKROOM_CLOUDFRONT_DISTRIBUTION_ID: DISTRIBUTION });
  for (const name of ['Landscape_1.jpg', 'Landscape_2.jpg', 'Landscape_3.jpg']) {
    ids.push(await stack.upload('ivy', path.join(TESTDATA, 'orientation', name), 'image/jpeg'));
  }
  for (const id of ids) expect((await stack.waitSettled('ivy', id)).status).toBe('ready');
}, 90_000);
afterAll(async () => {
  await stack?.stop();
  cf.server.close();
  process.env = saved;
});

const del = async (id: string) =>
  expect((await stack.call('DELETE', `/v1/images/${id}`, { as: 'ivy' })).status).toBe(204);

describe('invalidation on delete', () => {
  it('invalidates every cached path of a deleted image: its storage keys and its viewer URLs', async () => {
    // A fallback rendered before the delete is a cached key too.
    await fetch(`${stack.api}/img/${ids[0]}/medium`, { headers: { accept: 'image/jpeg' } });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    cf.setAnswer((n, respond) => (n === 1 ? held.then(() => respond(201, '')) : respond(201, '')));
    await del(ids[0]!);
    const [first] = await cf.requests(1);
    expect(first!.method).toBe('POST');
    expect(first!.url).toBe(`/2020-05-31/distribution/${DISTRIBUTION}/invalidation`);
    expect(first!.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/cloudfront\/aws4_request/,
    );
    expect(first!.paths.sort()).toEqual(
      [
        `/img/${ids[0]}/large`,
        `/img/${ids[0]}/medium`,
        `/img/${ids[0]}/thumb`,
        `/variants/${ids[0]}/large.webp`,
        `/variants/${ids[0]}/medium.fallback`,
        `/variants/${ids[0]}/medium.webp`,
        `/variants/${ids[0]}/thumb.webp`,
      ].sort(),
    );
    expect(first!.quantity).toBe(first!.paths.length);

    // While that request is in flight, two more deletes answer at once and wait for the next batch.
    await del(ids[1]!);
    await del(ids[2]!);
    expect(cf.seen).toHaveLength(1);
    // The next request fails (CloudFront's limit on invalidations in progress): it is sent again.
    cf.setAnswer((_n, respond) =>
      respond(
        cf.seen.length === 2 ? 400 : 201,
        cf.seen.length === 2
          ? '<?xml version="1.0"?><ErrorResponse xmlns="http://cloudfront.amazonaws.com/doc/2020-05-31/"><Error><Type>Sender</Type><Code>TooManyInvalidationsInProgress</Code><Message>slow down</Message></Error><RequestId>r</RequestId></ErrorResponse>'
          : '',
      ),
    );
    release();
    const [, second, third] = await cf.requests(3);
    const both = (paths: string[]) => [ids[1], ids[2]].every((id) => paths.includes(`/img/${id}/thumb`));
    expect(both(second!.paths)).toBe(true);
    expect(second!.paths.some((p) => p.includes(ids[0]!))).toBe(false);
    expect(third!.paths.sort()).toEqual(second!.paths.sort());
  });
});
