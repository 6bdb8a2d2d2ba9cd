import { describe, expect, it } from 'vitest';
import { allows, FULL, only, roleStatements, synth } from './helpers.ts';

describe('IAM roles', () => {
  const { template } = synth();
  const bucket = `arn:${only(template, 'AWS::S3::Bucket').id}`;
  const queue = `arn:${Object.keys(template.findResources('AWS::SQS::Queue')).find((id) => id.startsWith('UploadsQueue'))}`;
  const dlq = `arn:${Object.keys(template.findResources('AWS::SQS::Queue')).find((id) => id.startsWith('DeadLetter'))}`;
  const api = roleStatements(template, 'RolesApiRole');
  const worker = roleStatements(template, 'RolesWorkerRole');
  const obj = (key: string) => `${bucket}/${key}`;

  it('are assumable by ECS tasks and EC2 instances, with instance profiles', () => {
    template.resourceCountIs('AWS::IAM::InstanceProfile', 2);
    const roles = template.findResources('AWS::IAM::Role');
    const ours = Object.entries(roles).filter(([id]) => id.startsWith('Roles'));
    expect(ours).toHaveLength(2);
    for (const [, role] of ours) {
      const doc = (role as { Properties: { AssumeRolePolicyDocument: { Statement: unknown[] } } }).Properties
        .AssumeRolePolicyDocument;
      expect(JSON.stringify(doc)).toContain('ecs-tasks.amazonaws.com');
      expect(JSON.stringify(doc)).toContain('ec2.amazonaws.com');
    }
  });

  it('API: presigns uploads/, stores what the edge lacked (renderings under variants/ and private/), nothing else', () => {
    expect(allows(api, 's3:PutObject', obj('uploads/01HXYZ'))).toBe(true);
    expect(allows(api, 's3:PutObject', obj('other/thing'))).toBe(false);
    for (const key of [
      'variants/01HXYZ/t/9f86d081.webp',
      'variants/01HXYZ/medium.fallback',
      'private/01HXYZ/thumb.avif',
    ]) {
      expect(allows(api, 's3:PutObject', obj(key)), key).toBe(true);
      expect(allows(api, 's3:GetObject', obj(key)), key).toBe(true);
      expect(allows(api, 's3:DeleteObject', obj(key)), key).toBe(true);
    }
    expect(allows(api, 's3:PutObjectAcl', obj('uploads/01HXYZ'))).toBe(false);
    expect(allows(api, 's3:PutBucketPolicy', bucket)).toBe(false);
  });

  it('API: multipart, complete fallback, deletes, queue send', () => {
    for (const action of ['s3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:GetObject']) {
      expect(allows(api, action, obj('uploads/01HXYZ')), action).toBe(true);
    }
    expect(allows(api, 's3:DeleteObject', obj('uploads/01HXYZ'))).toBe(true);
    expect(allows(api, 's3:DeleteObject', obj('variants/01HXYZ/thumb.webp'))).toBe(true);
    expect(allows(api, 's3:DeleteObject', obj('elsewhere'))).toBe(false);
    expect(allows(api, 'sqs:SendMessage', queue)).toBe(true);
    expect(allows(api, 'sqs:ReceiveMessage', queue)).toBe(false);
    expect(allows(api, 'sqs:DeleteMessage', queue)).toBe(false);
    expect(allows(api, 'sqs:SendMessage', dlq)).toBe(false);
  });

  it('worker: reads uploads/, writes variants/, never writes uploads/', () => {
    expect(allows(worker, 's3:GetObject', obj('uploads/01HXYZ'))).toBe(true);
    expect(allows(worker, 's3:PutObject', obj('variants/01HXYZ/thumb.webp'))).toBe(true);
    expect(allows(worker, 's3:PutObject', obj('uploads/01HXYZ'))).toBe(false);
    expect(allows(worker, 's3:PutObject', obj('elsewhere/x'))).toBe(false);
    expect(allows(worker, 's3:DeleteObject', obj('uploads/01HXYZ'))).toBe(true);
    expect(allows(worker, 's3:DeleteObject', obj('variants/01HXYZ/thumb.webp'))).toBe(true);
    expect(allows(worker, 's3:ListBucketMultipartUploads', bucket)).toBe(true);
    expect(allows(worker, 's3:AbortMultipartUpload', obj('uploads/01HXYZ'))).toBe(true);
  });

  it('worker: consumes the uploads queue only', () => {
    for (const action of [
      'sqs:ReceiveMessage',
      'sqs:DeleteMessage',
      'sqs:ChangeMessageVisibility',
      'sqs:GetQueueAttributes',
    ]) {
      expect(allows(worker, action, queue), action).toBe(true);
      expect(allows(worker, action, dlq), `${action} on the DLQ`).toBe(false);
    }
    expect(allows(worker, 'sqs:PurgeQueue', queue)).toBe(false);
  });

  it('both may read the bucket notification (start-up check) but never change bucket configuration', () => {
    for (const role of [api, worker]) {
      expect(allows(role, 's3:GetBucketNotification', bucket)).toBe(true);
      expect(allows(role, 's3:ListBucket', bucket)).toBe(true);
      for (const action of [
        's3:PutBucketNotification',
        's3:PutBucketCORS',
        's3:PutBucketPolicy',
        's3:DeleteBucket',
      ]) {
        expect(allows(role, action, bucket), action).toBe(false);
      }
    }
  });

  it('no statement uses a wildcard action or resource', () => {
    for (const st of [...api, ...worker]) {
      for (const a of [st.Action].flat()) expect(a).not.toMatch(/\*/);
      for (const r of [st.Resource].flat()) expect(JSON.stringify(r)).not.toBe('"*"');
    }
  });

  it('tagging rights follow the lifecycle mode: none when every upload expires anyway', () => {
    expect(allows(api, 's3:PutObjectTagging', obj('uploads/01HXYZ'))).toBe(true);
    expect(allows(worker, 's3:DeleteObjectTagging', obj('uploads/01HXYZ'))).toBe(true);
    const t = synth({ ...FULL, expireAllUploads: true }).template;
    expect(allows(roleStatements(t, 'RolesApiRole'), 's3:PutObjectTagging', obj('uploads/01HXYZ'))).toBe(
      false,
    );
    expect(
      allows(roleStatements(t, 'RolesWorkerRole'), 's3:DeleteObjectTagging', obj('uploads/01HXYZ')),
    ).toBe(false);
  });
});
