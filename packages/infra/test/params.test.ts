import { CASE_CONFIG } from '@darkroom/edge/cases';
import { Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { DEFAULTS, ParamError, paramsFromContext, resolveParams } from '../lib/params.ts';
import { FULL, only, render, synth } from './helpers.ts';

const fromContext = (ctx: Record<string, unknown>) => paramsFromContext((k) => ctx[k]);

describe('parameters from context', () => {
  it('requires the API origin domain', () => {
    expect(() => fromContext({})).toThrow(/apiOriginDomain.*required/);
  });

  it('takes defaults for everything else', () => {
    expect(fromContext({ apiOriginDomain: 'api.example.com' })).toEqual({
      ...DEFAULTS,
      apiOriginDomain: 'api.example.com',
    });
  });

  it('parses command-line strings and cdk.json values alike', () => {
    const p = fromContext({
      apiOriginDomain: 'api.example.com',
      corsOrigins: 'https://a.example.com, https://b.example.com',
      transferAcceleration: 'true',
      maxReceiveCount: '8',
      visibilityTimeoutSeconds: 120,
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----',
      domainNames: ['img.example.com'],
      certificateArn: 'arn:aws:acm:us-east-1:1:certificate/x',
    });
    expect(p.corsOrigins).toEqual(['https://a.example.com', 'https://b.example.com']);
    expect(p.transferAcceleration).toBe(true);
    expect(p.maxReceiveCount).toBe(8);
    expect(p.visibilityTimeoutSeconds).toBe(120);
    expect(p.publicKeyPem).toBe('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----');
    expect(p.domainNames).toEqual(['img.example.com']);
  });

  it.each([
    [{ maxReceiveCount: '0' }, /maxReceiveCount/],
    [{ maxReceiveCount: 'five' }, /maxReceiveCount.*number/],
    [{ visibilityTimeoutSeconds: '2' }, /visibilityTimeoutSeconds/],
    [{ transferAcceleration: 'maybe' }, /transferAcceleration.*true or false/],
    [{ corsOrigins: 'app.example.com' }, /corsOrigins/],
    [{ bucketName: 'Bad_Name' }, /bucketName/],
    [{ bucketName: 'with.dots', transferAcceleration: 'true' }, /Transfer Acceleration/],
    [{ privatePathPattern: '/img/private/*' }, /privatePathPattern/],
    [{ priceClass: '300' }, /priceClass/],
    [{ domainNames: 'img.example.com' }, /certificateArn/],
    [{ publicKeyPem: 'not a key' }, /publicKeyPem/],
    // The lifecycle tag is the contract's: a knob the server would ignore is refused, not silently kept.
    [{ unprocessedTag: 'state=new' }, /unprocessedTag.*no longer a parameter.*darkroom-state=unprocessed/],
    [{ apiOriginDomain: 'https://api.example.com/' }, /apiOriginDomain/],
  ])('refuses %o', (ctx, message) => {
    const attempt = () => fromContext({ apiOriginDomain: 'api.example.com', ...ctx });
    expect(attempt).toThrow(ParamError);
    expect(attempt).toThrow(message);
  });
});

describe('outputs', () => {
  it('name the bucket, queues, distribution and roles', () => {
    const { template } = synth();
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'ApiEnvironment',
        'ApiInstanceProfileArn',
        'ApiRoleArn',
        'BucketName',
        'CdnBaseUrl',
        'DeadLetterQueueUrl',
        'DistributionDomainName',
        'DistributionId',
        'KeyPairId',
        'QueueUrl',
        'WorkerEnvironment',
        'WorkerInstanceProfileArn',
        'WorkerRoleArn',
      ].sort(),
    );
    const bucketId = only(template, 'AWS::S3::Bucket').id;
    expect(outputs.BucketName!.Value).toEqual({ Ref: bucketId });
    const dlqId = Object.keys(template.findResources('AWS::SQS::Queue')).find((id) => id.startsWith('Dead'))!;
    expect(outputs.DeadLetterQueueUrl!.Value).toEqual({ Ref: dlqId });
  });

  it('give each role the environment it needs, with the DARKROOM_* names config.ts reads', () => {
    const { template } = synth();
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const bucketId = only(template, 'AWS::S3::Bucket').id;
    const queueId = Object.keys(template.findResources('AWS::SQS::Queue')).find((id) =>
      id.startsWith('Uploads'),
    )!;
    const distId = only(template, 'AWS::CloudFront::Distribution').id;
    const keyId = only(template, 'AWS::CloudFront::PublicKey').id;
    const api = render(outputs.ApiEnvironment!.Value).split(' ');
    expect(api).toEqual([
      'DARKROOM_S3_ENDPOINT=https://s3.AWS::Region.amazonaws.com',
      'DARKROOM_S3_REGION=AWS::Region',
      `DARKROOM_S3_BUCKET=${bucketId}`,
      `DARKROOM_SQS_QUEUE_URL=${queueId}`,
      'DARKROOM_MAX_RECEIVE_COUNT=5',
      'DARKROOM_VISIBILITY_TIMEOUT_SECONDS=60',
      `DARKROOM_VARIANTS=${CASE_CONFIG.variantsText}`,
      `DARKROOM_CDN_BASE_URL=https://${distId}.DomainName`,
      'DARKROOM_PRIVATE_PATH=/private',
      `DARKROOM_CLOUDFRONT_DISTRIBUTION_ID=${distId}`,
      'DARKROOM_S3_ACCELERATE=false',
      `DARKROOM_MAX_UPLOAD_BYTES=${200 * 1024 ** 2}`,
      'DARKROOM_CORS_ORIGINS=https://app.example.com,http://localhost:5173',
      `DARKROOM_CLOUDFRONT_KEY_PAIR_ID=${keyId}`,
    ]);
    const worker = render(outputs.WorkerEnvironment!.Value).split(' ');
    expect(worker).toEqual(api.slice(0, 7));
    // The transform secret is compiled into the function, never printed in an output.
    expect(JSON.stringify(outputs)).not.toContain(CASE_CONFIG.transformSecret);
  });

  it('follow the parameters', () => {
    const { stack } = synth({
      ...FULL,
      transferAcceleration: true,
      maxReceiveCount: 3,
      visibilityTimeoutSeconds: 900,
      domainNames: ['img.example.com'],
      certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
    });
    const resolved = (v: string) => Stack.of(stack).resolve(v);
    expect(stack.apiEnvironment.DARKROOM_S3_ACCELERATE).toBe('true');
    expect(stack.apiEnvironment.DARKROOM_CDN_BASE_URL).toBe('https://img.example.com');
    expect(stack.sharedEnvironment.DARKROOM_MAX_RECEIVE_COUNT).toBe('3');
    expect(stack.sharedEnvironment.DARKROOM_VISIBILITY_TIMEOUT_SECONDS).toBe('900');
    expect(resolved(stack.sharedEnvironment.DARKROOM_S3_BUCKET!)).toEqual({
      Ref: expect.stringMatching(/^Bucket/),
    });
  });

  it('leave out the key pair id when there is no signing key', () => {
    const { stack, template } = synth({ apiOriginDomain: 'api.example.com' });
    expect(stack.apiEnvironment.DARKROOM_CLOUDFRONT_KEY_PAIR_ID).toBeUndefined();
    expect(stack.apiEnvironment.DARKROOM_CORS_ORIGINS).toBeUndefined();
    expect(Object.keys(template.toJSON().Outputs)).not.toContain('KeyPairId');
  });

  it('resolveParams keeps explicit values over defaults', () => {
    expect(resolveParams({ apiOriginDomain: 'a.example.com', maxReceiveCount: 2 }).maxReceiveCount).toBe(2);
    expect(
      resolveParams({ apiOriginDomain: 'a.example.com', maxReceiveCount: undefined }).maxReceiveCount,
    ).toBe(5);
  });
});
