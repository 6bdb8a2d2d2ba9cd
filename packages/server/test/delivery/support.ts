import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
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

/** The object keys under `prefix` in the stack's bucket, read through S3 itself. */
export async function listKeys(stack: TestStack, prefix: string): Promise<string[]> {
  const s3 = new S3Client({
    endpoint: stack.s3,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: TEST_KEY,
  });
  try {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: stack.config.s3.bucket, Prefix: prefix }));
    return (page.Contents ?? []).map((o) => o.Key ?? '').sort();
  } finally {
    s3.destroy();
  }
}
