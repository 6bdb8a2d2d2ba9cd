import { deadLetterQueueName, UPLOADS_PREFIX } from '@darkroom/contract';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3n from 'aws-cdk-lib/aws-s3-notifications';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { DarkroomParams } from './params.ts';

/** The uploads queue the workers long-poll and the dead-letter queue behind it. */
export interface Queues {
  readonly queue: sqs.Queue;
  readonly dlq: sqs.Queue;
}

/** Creates the queue + DLQ; a message received `maxReceiveCount` times moves to the DLQ. */
export function createQueues(scope: Construct, p: DarkroomParams): Queues {
  const removalPolicy = p.destroyOnRemoval ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
  const dlq = new sqs.Queue(scope, 'DeadLetterQueue', {
    queueName: p.queueName === undefined ? undefined : deadLetterQueueName(p.queueName),
    retentionPeriod: Duration.days(p.dlqRetentionDays),
    // SQS-managed keys: S3 can publish to them, unlike the AWS-managed KMS key for SQS.
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    removalPolicy,
  });
  const queue = new sqs.Queue(scope, 'UploadsQueue', {
    queueName: p.queueName,
    visibilityTimeout: Duration.seconds(p.visibilityTimeoutSeconds),
    // Long polling by default, so idle workers cost few requests even if a client forgets WaitTimeSeconds.
    receiveMessageWaitTime: Duration.seconds(20),
    retentionPeriod: Duration.days(4),
    encryption: sqs.QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    deadLetterQueue: { queue: dlq, maxReceiveCount: p.maxReceiveCount },
    removalPolicy,
  });
  return { queue, dlq };
}

/**
 * Sends `s3:ObjectCreated:*` for `uploads/` keys to the queue; the SQS destination also adds the queue
 * policy that lets s3.amazonaws.com (this bucket only) send to it.
 */
export function notifyUploads(bucket: s3.Bucket, queue: sqs.IQueue): void {
  bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.SqsDestination(queue), {
    prefix: UPLOADS_PREFIX,
  });
}
