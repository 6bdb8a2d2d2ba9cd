import { UNPROCESSED_TAG } from '@darkroom/contract';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FULL, only, synth } from './helpers.ts';

describe('bucket', () => {
  const { template } = synth();

  it('blocks public access, encrypts with SSE-S3 and disables ACLs', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });

  it('refuses plain-HTTP requests and TLS older than 1.2 in the bucket policy', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });

  it('allows browser uploads from the app origins only, exposing ETag', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: [
          {
            AllowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
            AllowedMethods: ['PUT', 'POST', 'GET', 'HEAD'],
            AllowedHeaders: ['*'],
            ExposedHeaders: ['ETag', 'x-amz-checksum-sha256', 'x-amz-request-id'],
            MaxAge: 3600,
          },
        ],
      },
    });
  });

  it('aborts incomplete multipart uploads after a day and expires tagged unprocessed uploads/ objects', () => {
    const { props } = only(template, 'AWS::S3::Bucket');
    const rules = (props.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toEqual([
      {
        Id: 'abort-incomplete-multipart',
        Status: 'Enabled',
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      },
      {
        Id: 'expire-unprocessed-uploads',
        Status: 'Enabled',
        Prefix: 'uploads/',
        ExpirationInDays: 7,
        // Exactly the tag the server sets on POST and multipart originals and on failed ones (the contract's).
        TagFilters: [{ Key: UNPROCESSED_TAG.key, Value: UNPROCESSED_TAG.value }],
      },
    ]);
  });

  it('keeps data when the stack is deleted, unless told otherwise', () => {
    template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    const dev = synth({ ...FULL, destroyOnRemoval: true }).template;
    dev.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    dev.hasResource('AWS::SQS::Queue', { DeletionPolicy: 'Delete' });
  });

  it('has no Transfer Acceleration or CORS unless asked', () => {
    const { props } = only(synth({ apiOriginDomain: 'api.example.com' }).template, 'AWS::S3::Bucket');
    expect(props.AccelerateConfiguration).toBeUndefined();
    expect(props.CorsConfiguration).toBeUndefined();
  });
});

describe('bucket parameters', () => {
  it('turns on Transfer Acceleration, names the bucket and changes the expiry', () => {
    const { template } = synth({
      ...FULL,
      transferAcceleration: true,
      bucketName: 'darkroom-prod-images',
      uploadsExpirationDays: 3,
      expireAllUploads: true,
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: 'darkroom-prod-images',
      AccelerateConfiguration: { AccelerationStatus: 'Enabled' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          // expireAllUploads: every uploads/ object goes, so no tag filter.
          { Id: 'expire-unprocessed-uploads', Status: 'Enabled', Prefix: 'uploads/', ExpirationInDays: 3 },
        ]),
      },
    });
  });
});
