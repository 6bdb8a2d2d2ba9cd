import vm from 'node:vm';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { FORMAT_FUNCTION_CODE, FORMAT_HEADER } from '../lib/format-function.ts';
import { FULL, only, PUBLIC_KEY_PEM, render, synth } from './helpers.ts';

interface Behavior {
  PathPattern?: string;
  TargetOriginId: string;
  CachePolicyId: unknown;
  OriginRequestPolicyId?: unknown;
  ViewerProtocolPolicy: string;
  AllowedMethods?: string[];
  TrustedKeyGroups?: unknown[];
  FunctionAssociations?: { EventType: string; FunctionARN: unknown }[];
}
interface DistributionConfig {
  Origins: {
    Id: string;
    DomainName: unknown;
    OriginAccessControlId?: unknown;
    CustomOriginConfig?: { OriginProtocolPolicy: string };
  }[];
  DefaultCacheBehavior: Behavior;
  CacheBehaviors: Behavior[];
}

function distribution(params = FULL) {
  const { template } = synth(params);
  const config = only(template, 'AWS::CloudFront::Distribution').props
    .DistributionConfig as DistributionConfig;
  const behavior = (path: string) => config.CacheBehaviors.find((b) => b.PathPattern === path);
  const origin = (b: Behavior) => config.Origins.find((o) => o.Id === b.TargetOriginId)!;
  return { template, config, behavior, origin };
}

describe('CloudFront distribution', () => {
  const { template, config, behavior, origin } = distribution();
  const bucketId = only(template, 'AWS::S3::Bucket').id;
  const oacId = only(template, 'AWS::CloudFront::OriginAccessControl').id;
  const functionId = only(template, 'AWS::CloudFront::Function').id;
  const cachePolicyId = only(template, 'AWS::CloudFront::CachePolicy').id;

  it('orders behaviours private, /img/*, /variants/* (CloudFront takes the first match)', () => {
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/private/*', '/img/*', '/variants/*']);
  });

  it('serves /variants/* from the bucket through Origin Access Control', () => {
    const variants = behavior('/variants/*')!;
    const o = origin(variants);
    expect(render(o.DomainName)).toBe(`${bucketId}.RegionalDomainName`);
    expect(o.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oacId, 'Id'] });
    expect(variants.AllowedMethods).toEqual(['GET', 'HEAD']);
    expect(variants.ViewerProtocolPolicy).toBe('redirect-to-https');
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      }),
    });
  });

  it('lets only this distribution read the bucket, and only under variants/', () => {
    const statements = (
      only(template, 'AWS::S3::BucketPolicy').props.PolicyDocument as {
        Statement: {
          Effect: string;
          Principal?: unknown;
          Resource?: unknown;
          NotResource?: unknown;
          Condition?: unknown;
        }[];
      }
    ).Statement.filter((s) => JSON.stringify(s.Principal) === '{"Service":"cloudfront.amazonaws.com"}');
    const allow = statements.find((s) => s.Effect === 'Allow')!;
    expect(render(allow.Resource)).toBe(`arn:${bucketId}/*`);
    expect(JSON.stringify(allow.Condition)).toContain('distribution/');
    const deny = statements.find((s) => s.Effect === 'Deny')!;
    expect(render(deny.NotResource)).toBe(`arn:${bucketId}/variants/*`);
  });

  it('sends /img/* to the Darkroom origin over HTTPS, keyed on the format header, with the function', () => {
    const img = behavior('/img/*')!;
    const o = origin(img);
    expect(o.DomainName).toBe('api.example.com');
    expect(o.CustomOriginConfig?.OriginProtocolPolicy).toBe('https-only');
    expect(img.CachePolicyId).toEqual({ Ref: cachePolicyId });
    expect(img.AllowedMethods).toEqual(['GET', 'HEAD', 'OPTIONS']);
    expect(img.FunctionAssociations).toEqual([
      { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [functionId, 'FunctionARN'] } },
    ]);
    expect(img.TrustedKeyGroups).toBeUndefined();
  });

  it('requires signed URLs from the key group on the private behaviour', () => {
    const keyGroupId = only(template, 'AWS::CloudFront::KeyGroup').id;
    const priv = behavior('/private/*')!;
    expect(priv.TrustedKeyGroups).toEqual([{ Ref: keyGroupId }]);
    expect(origin(priv).DomainName).toBe('api.example.com');
    expect(priv.FunctionAssociations).toHaveLength(1);
  });

  it('passes everything else to the origin uncached', () => {
    const d = config.DefaultCacheBehavior;
    expect(origin(d).DomainName).toBe('api.example.com');
    // The managed CachingDisabled policy.
    expect(d.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad');
    expect(d.AllowedMethods).toContain('POST');
  });

  it('has a key group holding the given public key', () => {
    const keyId = only(template, 'AWS::CloudFront::PublicKey').id;
    template.hasResourceProperties('AWS::CloudFront::PublicKey', {
      PublicKeyConfig: Match.objectLike({ EncodedKey: PUBLIC_KEY_PEM }),
    });
    template.hasResourceProperties('AWS::CloudFront::KeyGroup', {
      KeyGroupConfig: Match.objectLike({ Items: [{ Ref: keyId }] }),
    });
  });

  it('keys the image cache on the normalised format, signatures and never on Accept or cookies', () => {
    template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({
        MinTTL: 0,
        MaxTTL: 365 * 86_400,
        ParametersInCacheKeyAndForwardedToOrigin: {
          HeadersConfig: { HeaderBehavior: 'whitelist', Headers: [FORMAT_HEADER] },
          QueryStringsConfig: {
            QueryStringBehavior: 'whitelist',
            QueryStrings: ['sig', 'f', 'Expires', 'Key-Pair-Id', 'Signature', 'Hash-Algorithm'],
          },
          CookiesConfig: { CookieBehavior: 'none' },
          EnableAcceptEncodingGzip: false,
          EnableAcceptEncodingBrotli: false,
        },
      }),
    });
    template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: Match.objectLike({
        HeadersConfig: { HeaderBehavior: 'whitelist', Headers: ['accept'] },
        QueryStringsConfig: { QueryStringBehavior: 'all' },
      }),
    });
  });

  it('runs the format function on cloudfront-js-2.0, published', () => {
    template.hasResourceProperties('AWS::CloudFront::Function', {
      AutoPublish: true,
      FunctionConfig: Match.objectLike({ Runtime: 'cloudfront-js-2.0' }),
      FunctionCode: FORMAT_FUNCTION_CODE,
    });
  });
});

describe('CloudFront parameters', () => {
  it('has no bucket behaviour, OAC or CloudFront grant by default (private variants would leak)', () => {
    const { template, config } = distribution({ ...FULL, serveVariantsFromBucket: undefined });
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/private/*', '/img/*']);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 0);
    expect(JSON.stringify(template.findResources('AWS::S3::BucketPolicy'))).not.toContain(
      'cloudfront.amazonaws.com',
    );
  });

  it('warns at synth time when the bucket behaviour is on', () => {
    const on = synth(FULL).stack;
    Annotations.fromStack(on).hasWarning('*', Match.stringLikeRegexp('without a signature'));
    const off = synth({ ...FULL, serveVariantsFromBucket: false }).stack;
    Annotations.fromStack(off).hasNoWarning('*', Match.anyValue());
  });

  it('has no key group or private behaviour without a public key', () => {
    const { template, config } = distribution({ apiOriginDomain: 'origin.example.net' });
    template.resourceCountIs('AWS::CloudFront::KeyGroup', 0);
    template.resourceCountIs('AWS::CloudFront::PublicKey', 0);
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/img/*']);
    expect(config.Origins.some((o) => o.DomainName === 'origin.example.net')).toBe(true);
  });

  it('moves the private behaviour and drops the bucket origin when asked', () => {
    const { template, config } = distribution({
      ...FULL,
      privatePathPattern: '/p/*',
      serveVariantsFromBucket: false,
    });
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/p/*', '/img/*']);
    template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 0);
  });

  it('takes a price class, alternate domain names and a certificate', () => {
    const { template } = synth({
      ...FULL,
      priceClass: 'All',
      domainNames: ['img.example.com'],
      certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
    });
    template.hasResourceProperties('AWS::CloudFront::Distribution', {
      DistributionConfig: Match.objectLike({
        PriceClass: 'PriceClass_All',
        Aliases: ['img.example.com'],
        ViewerCertificate: Match.objectLike({
          AcmCertificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/abc',
          MinimumProtocolVersion: 'TLSv1.2_2021',
          SslSupportMethod: 'sni-only',
        }),
      }),
    });
  });
});

describe('format function', () => {
  // Runs the exact source CloudFront gets, in a bare context (no Node globals), as the edge would.
  const run = (accept: string | undefined) => {
    const context = vm.createContext({});
    vm.runInContext(FORMAT_FUNCTION_CODE, context);
    const headers: Record<string, { value: string }> =
      accept === undefined ? {} : { accept: { value: accept } };
    const handler = (context as { handler: (e: unknown) => { headers: typeof headers } }).handler;
    const out = handler({ request: { uri: '/img/x/thumb', headers } }).headers;
    return { format: out[FORMAT_HEADER]?.value, accept: out.accept?.value };
  };

  it.each([
    ['Chrome', 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8', 'avif'],
    [
      'Safari 15',
      'image/webp,image/avif,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
      'avif',
    ],
    ['Firefox 90', 'image/webp,*/*', 'webp'],
    ['AVIF refused', 'image/avif;q=0,image/webp', 'webp'],
    ['AVIF refused (0.0)', 'image/avif;q=0.0, image/webp;q=0', 'original'],
    ['curl', '*/*', 'original'],
    ['wildcard image', 'image/*', 'original'],
    ['none', undefined, 'original'],
    ['upper case', 'IMAGE/WEBP', 'webp'],
  ])('%s → %s', (_name, accept, format) => {
    expect(run(accept).format).toBe(format);
  });

  it('rewrites Accept to one value per format, which the origin classifies the same way', () => {
    const values = new Set(
      [
        'image/avif,image/webp,*/*',
        'image/avif,*/*;q=0.8',
        'image/webp,image/png',
        'text/html',
        undefined,
      ].map((a) => run(a).accept),
    );
    expect(values.size).toBe(3);
    expect(run(run('image/avif').accept).format).toBe('avif');
    expect(run(run('image/webp').accept).format).toBe('webp');
    expect(run(run('*/*').accept).format).toBe('original');
  });
});
