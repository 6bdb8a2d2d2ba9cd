/**
 * @module The targets the conformance suite runs against: the embedded server over a temp dir, and a
 * throw-away Ceph RGW cluster from @darkroom/testkit (one per test file).
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { startRgw } from '@darkroom/testkit';
import { REGION, startTestS3, TEST_KEY } from '../support.ts';
import { clientFactory, type S3Target, uniqueBucketName } from './suite.ts';

/** The embedded server on a random port over a fresh temp dir. */
export async function embeddedTarget(): Promise<S3Target> {
  const s3 = await startTestS3();
  return targetOver({
    name: 'embedded',
    endpoint: s3.endpoint,
    region: REGION,
    credentials: TEST_KEY,
    stop: () => s3.stop(),
  });
}

/** A single-node Ceph 16 cluster with its RADOS Gateway (3-6 s to start, ~300 MB). */
export async function rgwTarget(): Promise<S3Target> {
  const rgw = await startRgw();
  return targetOver({
    name: 'ceph-rgw',
    endpoint: rgw.endpoint,
    region: rgw.region,
    credentials: { accessKeyId: rgw.accessKeyId, secretAccessKey: rgw.secretAccessKey },
    stop: () => rgw.stop(),
  });
}

function targetOver(
  t: Omit<S3Target, 'client' | 'newBucket' | 'stop'> & { stop(): Promise<void> },
): S3Target {
  const clients = clientFactory({
    endpoint: t.endpoint,
    region: t.region,
    forcePathStyle: true,
    credentials: t.credentials,
  });
  const admin = clients.make();
  return {
    ...t,
    client: (overrides) => clients.make(overrides),
    async newBucket(prefix) {
      const name = uniqueBucketName(prefix);
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async stop() {
      clients.destroyAll();
      await t.stop();
    },
  };
}
