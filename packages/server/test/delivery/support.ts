import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { TEST_KEY } from '@darkroom/s3-server/test-support';
import type { TestStack } from '../helpers/stack.ts';

/** The value of one Prometheus sample on /metrics (0 when absent), e.g. `metric(text, 'x_total{result="hit"}')`. */
export function metric(text: string, sample: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return 0;
}

/** Scrapes the stack's /metrics. */
export async function scrape(stack: TestStack): Promise<string> {
  return (await fetch(`${stack.api}/metrics`)).text();
}

const client = (stack: TestStack) =>
  new S3Client({ endpoint: stack.s3, region: 'us-east-1', forcePathStyle: true, credentials: TEST_KEY });

/** HeadObject through S3 itself: the object's ETag, type and cache policy, or undefined when absent. */
export async function headKey(
  stack: TestStack,
  key: string,
): Promise<{ etag: string; contentType: string; cacheControl: string | undefined } | undefined> {
  const s3 = client(stack);
  try {
    const h = await s3.send(new HeadObjectCommand({ Bucket: stack.config.s3.bucket, Key: key }));
    return { etag: h.ETag ?? '', contentType: h.ContentType ?? '', cacheControl: h.CacheControl };
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404)
      return undefined;
    throw err;
  } finally {
    s3.destroy();
  }
}

/** The object keys under `prefix` in the stack's bucket, read through S3 itself. */
export async function listKeys(stack: TestStack, prefix: string): Promise<string[]> {
  const s3 = client(stack);
  try {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: stack.config.s3.bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((o) => o.Key ?? '').sort();
  } finally {
    s3.destroy();
  }
}
