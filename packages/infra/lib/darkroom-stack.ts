import { Aws, CfnOutput, Fn, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Cdn } from './cdn.ts';
import { DarkroomRoles } from './iam.ts';
import { type DarkroomParams, privatePath } from './params.ts';
import { createQueues, notifyUploads } from './queue.ts';
import { createBucket } from './storage.ts';

export interface DarkroomStackProps extends StackProps {
  readonly params: DarkroomParams;
}

/** Everything Darkroom needs on AWS; deliberately environment-agnostic so `cdk synth` never looks anything up. */
export class DarkroomStack extends Stack {
  /** DARKROOM_* variables both roles need, as CloudFormation values (tokens until deploy). */
  readonly sharedEnvironment: Readonly<Record<string, string>>;
  /** DARKROOM_* variables only `darkroom api` needs. */
  readonly apiEnvironment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: DarkroomStackProps) {
    super(scope, id, props);
    const p = props.params;
    const bucket = createBucket(this, p);
    const { queue, dlq } = createQueues(this, p);
    notifyUploads(bucket, queue);
    const cdn = new Cdn(this, 'Cdn', bucket, p);
    const roles = new DarkroomRoles(this, 'Roles', bucket, queue, p);
    // Deleting an image invalidates its cached paths (DARKROOM_CLOUDFRONT_DISTRIBUTION_ID).
    cdn.distribution.grantCreateInvalidation(roles.apiRole);

    const cdnBaseUrl =
      p.domainNames[0] === undefined
        ? `https://${cdn.distribution.distributionDomainName}`
        : `https://${p.domainNames[0]}`;
    this.sharedEnvironment = {
      // An amazonaws.com endpoint is what tells Darkroom it is on Amazon S3 (virtual hosts, acceleration).
      DARKROOM_S3_ENDPOINT: `https://s3.${Aws.REGION}.amazonaws.com`,
      DARKROOM_S3_REGION: Aws.REGION,
      DARKROOM_S3_BUCKET: bucket.bucketName,
      DARKROOM_SQS_QUEUE_URL: queue.queueUrl,
      DARKROOM_MAX_RECEIVE_COUNT: String(p.maxReceiveCount),
      DARKROOM_VISIBILITY_TIMEOUT_SECONDS: String(p.visibilityTimeoutSeconds),
      // The edge function was built from these variants: the worker must store, and the API render, the same.
      ...(p.variants === undefined ? {} : { DARKROOM_VARIANTS: p.variants }),
    };
    this.apiEnvironment = {
      DARKROOM_CDN_BASE_URL: cdnBaseUrl,
      DARKROOM_PRIVATE_PATH: privatePath(p),
      DARKROOM_CLOUDFRONT_DISTRIBUTION_ID: cdn.distribution.distributionId,
      DARKROOM_S3_ACCELERATE: String(p.transferAcceleration),
      DARKROOM_MAX_UPLOAD_BYTES: String(p.maxUploadBytes),
      ...(p.corsOrigins.length > 0 ? { DARKROOM_CORS_ORIGINS: p.corsOrigins.join(',') } : {}),
      ...(cdn.publicKey === undefined ? {} : { DARKROOM_CLOUDFRONT_KEY_PAIR_ID: cdn.publicKey.publicKeyId }),
    };

    const out = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description });
    out('BucketName', bucket.bucketName, 'DARKROOM_S3_BUCKET');
    out('QueueUrl', queue.queueUrl, 'DARKROOM_SQS_QUEUE_URL');
    out('DeadLetterQueueUrl', dlq.queueUrl, 'Dead-letter queue: inspect and redrive failed messages here');
    out('DistributionDomainName', cdn.distribution.distributionDomainName, 'CloudFront domain');
    out('DistributionId', cdn.distribution.distributionId, 'For invalidations after deletes');
    out('CdnBaseUrl', cdnBaseUrl, 'DARKROOM_CDN_BASE_URL');
    out('ApiRoleArn', roles.apiRole.roleArn, 'Task/instance role for darkroom api');
    out('WorkerRoleArn', roles.workerRole.roleArn, 'Task/instance role for darkroom worker');
    out('ApiInstanceProfileArn', roles.apiInstanceProfile.instanceProfileArn, 'EC2: darkroom api');
    out('WorkerInstanceProfileArn', roles.workerInstanceProfile.instanceProfileArn, 'EC2: darkroom worker');
    if (cdn.publicKey !== undefined) {
      out('KeyPairId', cdn.publicKey.publicKeyId, 'DARKROOM_CLOUDFRONT_KEY_PAIR_ID');
    }
    out(
      'ApiEnvironment',
      envLine({ ...this.sharedEnvironment, ...this.apiEnvironment }),
      'env for darkroom api',
    );
    out('WorkerEnvironment', envLine(this.sharedEnvironment), 'env for darkroom worker');
  }
}

/** `K=V K=V …` as one CloudFormation string (values are tokens, so they are joined by Fn::Join). */
function envLine(env: Readonly<Record<string, string>>): string {
  return Fn.join(
    ' ',
    Object.entries(env).map(([k, v]) => Fn.join('', [`${k}=`, v])),
  );
}
