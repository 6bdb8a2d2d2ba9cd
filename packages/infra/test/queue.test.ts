import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FULL, only, synth } from './helpers.ts';

describe('queues', () => {
  const { template } = synth();
  const queues = template.findResources('AWS::SQS::Queue');
  const [dlqId] = Object.keys(queues).filter((id) => id.startsWith('DeadLetterQueue'));
  const [queueId] = Object.keys(queues).filter((id) => id.startsWith('UploadsQueue'));

  it('has exactly an uploads queue and its dead-letter queue', () => {
    expect(Object.keys(queues)).toHaveLength(2);
    expect(dlqId).toBeDefined();
    expect(queueId).toBeDefined();
  });

  it('redrives to the DLQ after maxReceiveCount receives, with the worker visibility timeout', () => {
    template.hasResourceProperties('AWS::SQS::Queue', {
      VisibilityTimeout: 60,
      ReceiveMessageWaitTimeSeconds: 20,
      SqsManagedSseEnabled: true,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 14 * 86_400,
      SqsManagedSseEnabled: true,
      RedrivePolicy: Match.absent(),
    });
  });

  it('follows the receive count, visibility and retention parameters', () => {
    const t = synth({
      ...FULL,
      maxReceiveCount: 9,
      visibilityTimeoutSeconds: 300,
      dlqRetentionDays: 4,
      queueName: 'darkroom-uploads',
    }).template;
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'darkroom-uploads',
      VisibilityTimeout: 300,
      RedrivePolicy: Match.objectLike({ maxReceiveCount: 9 }),
    });
    t.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: 'darkroom-uploads-dlq',
      MessageRetentionPeriod: 4 * 86_400,
    });
  });
});

describe('S3 → SQS notification', () => {
  const { template } = synth();
  const queueId = Object.keys(template.findResources('AWS::SQS::Queue')).find((id) =>
    id.startsWith('UploadsQueue'),
  )!;
  const bucketId = only(template, 'AWS::S3::Bucket').id;

  it('sends s3:ObjectCreated:* for the uploads/ prefix (and nothing else) to the uploads queue', () => {
    const { props } = only(template, 'Custom::S3BucketNotifications');
    expect(props.BucketName).toEqual({ Ref: bucketId });
    expect(props.NotificationConfiguration).toEqual({
      QueueConfigurations: [
        {
          Events: ['s3:ObjectCreated:*'],
          QueueArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
          Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'uploads/' }] } },
        },
      ],
    });
  });

  it('lets this bucket, and only it, send to the queue', () => {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 's3.amazonaws.com' },
            Action: Match.arrayWith(['sqs:SendMessage']),
            Condition: { ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [bucketId, 'Arn'] } } },
          }),
        ]),
      },
    });
  });

  it('creates the notification only after the queue policy exists (S3 tests delivery on PUT)', () => {
    const notifications = template.findResources('Custom::S3BucketNotifications');
    const dependsOn = (Object.values(notifications)[0] as { DependsOn?: string[] }).DependsOn ?? [];
    expect(dependsOn.some((d) => d.startsWith('UploadsQueuePolicy'))).toBe(true);
  });
});
