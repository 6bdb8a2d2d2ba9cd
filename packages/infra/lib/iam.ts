import { PRIVATE_PREFIX, UPLOADS_PREFIX, VARIANTS_PREFIX } from '@darkroom/contract';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { DarkroomParams } from './params.ts';

/** Who may assume the roles: ECS tasks and EC2 instances (through the instance profiles below). */
function runtimePrincipal(): iam.IPrincipal {
  return new iam.CompositePrincipal(
    new iam.ServicePrincipal('ecs-tasks.amazonaws.com'),
    new iam.ServicePrincipal('ec2.amazonaws.com'),
  );
}

/** The two runtime roles, each with only what its process does. */
export class DarkroomRoles extends Construct {
  /** `darkroom api`: presigns uploads, completes/aborts them, serves and deletes images. */
  readonly apiRole: iam.Role;
  /** `darkroom worker`: reads originals, publishes variants, sweeps leftovers. */
  readonly workerRole: iam.Role;
  readonly apiInstanceProfile: iam.InstanceProfile;
  readonly workerInstanceProfile: iam.InstanceProfile;

  constructor(scope: Construct, id: string, bucket: s3.IBucket, queue: sqs.IQueue, p: DarkroomParams) {
    super(scope, id);
    const uploads = bucket.arnForObjects(`${UPLOADS_PREFIX}*`);
    // Public variants and private ones (apart, where only the signed-URL behaviour reads).
    const variants = [
      bucket.arnForObjects(`${VARIANTS_PREFIX}*`),
      bucket.arnForObjects(`${PRIVATE_PREFIX}*`),
    ];
    const tagging = p.expireAllUploads ? [] : ['s3:PutObjectTagging'];

    this.apiRole = new iam.Role(this, 'ApiRole', {
      assumedBy: runtimePrincipal(),
      description: 'darkroom api: presign uploads/ only, complete/abort, deliver, delete images',
    });
    const api = (sid: string, actions: string[], resources: string[]) =>
      this.apiRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources }));
    // A presigned URL carries the signer's permissions: PutObject here is exactly what a browser can do
    // with it (PUT, POST form, and every multipart step except abort/list parts).
    api('PresignUploads', ['s3:PutObject', ...tagging], [uploads]);
    api('MultipartUploads', ['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts'], [uploads]);
    // GetObject also authorises HeadObject: the complete fallback confirms the bytes arrived.
    api('ReadOriginals', ['s3:GetObject'], [uploads]);
    // The delivery routes read variants, and as CloudFront's failover origin store what S3 lacked: transforms'
    // first renderings, formats a variant was not stored in, the JPEG/PNG fallback (all under the image's prefix).
    api('Deliver', ['s3:GetObject'], variants);
    api('StoreRenderings', ['s3:PutObject'], variants);
    api('DeleteImages', ['s3:DeleteObject'], [uploads, ...variants]);
    // ListBucket: HeadBucket (health check), ListObjectsV2 (deleting an image's variants by prefix), and a
    // HEAD of a missing key answering 404 rather than 403;
    // GetBucketNotification: the start-up check that uploads/ events really reach the queue.
    api('Bucket', ['s3:ListBucket', 's3:GetBucketNotification'], [bucket.bucketArn]);
    // SendMessage: the complete fallback for storage without notifications; GetQueueAttributes: queue metrics.
    api('Queue', ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], [queue.queueArn]);

    this.workerRole = new iam.Role(this, 'WorkerRole', {
      assumedBy: runtimePrincipal(),
      description: 'darkroom worker: read uploads/, write variants/, sweep leftovers',
    });
    const worker = (sid: string, actions: string[], resources: string[]) =>
      this.workerRole.addToPrincipalPolicy(new iam.PolicyStatement({ sid, actions, resources }));
    worker('ReadOriginals', ['s3:GetObject'], [uploads]);
    worker('PublishVariants', ['s3:PutObject'], variants);
    if (tagging.length > 0) {
      // Clears the "unprocessed" tag once an original is developed, so the lifecycle rule leaves it alone.
      worker('MarkProcessed', ['s3:PutObjectTagging', 's3:DeleteObjectTagging'], [uploads]);
    }
    // Cancelled intents, orphaned originals and half-finished variant sets are removed by the worker.
    worker('Cleanup', ['s3:DeleteObject'], [uploads, ...variants]);
    worker('AbortStaleMultipart', ['s3:AbortMultipartUpload'], [uploads]);
    worker(
      'Bucket',
      ['s3:ListBucket', 's3:ListBucketMultipartUploads', 's3:GetBucketNotification'],
      [bucket.bucketArn],
    );
    worker(
      'ConsumeQueue',
      [
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        // The sweeper re-queues originals whose notification never came.
        'sqs:SendMessage',
      ],
      [queue.queueArn],
    );

    this.apiInstanceProfile = new iam.InstanceProfile(this, 'ApiInstanceProfile', { role: this.apiRole });
    this.workerInstanceProfile = new iam.InstanceProfile(this, 'WorkerInstanceProfile', {
      role: this.workerRole,
    });
  }
}
