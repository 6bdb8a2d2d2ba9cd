import crypto from 'node:crypto';
import { getSignedUrl } from '@aws-sdk/cloudfront-signer';
import { parseVariants } from '@darkroom/contract';
import {
  type CloudFrontRequest,
  type CloudFrontResponse,
  EDGE_ORIGIN_PATH,
  functionSource,
  loadFunctionCode,
  MAX_FUNCTION_BYTES,
  viewerEvent,
} from '@darkroom/edge';
import { CASE_CONFIG, EDGE_CASES, materialise } from '@darkroom/edge/cases';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import type { ParamsInput } from '../lib/params.ts';
import { FULL, only, PRIVATE_KEY_PEM, PUBLIC_KEY_PEM, render, synth } from './helpers.ts';

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
interface Origin {
  Id: string;
  DomainName: unknown;
  OriginPath?: string;
  OriginAccessControlId?: unknown;
  S3OriginConfig?: unknown;
  CustomOriginConfig?: { OriginProtocolPolicy: string };
}
interface OriginGroup {
  Id: string;
  FailoverCriteria: { StatusCodes: { Items: number[] } };
  Members: { Items: { OriginId: string }[] };
}
interface DistributionConfig {
  Origins: Origin[];
  OriginGroups?: { Items: OriginGroup[] };
  DefaultCacheBehavior: Behavior;
  CacheBehaviors: Behavior[];
  CustomErrorResponses?: { ErrorCode: number; ErrorCachingMinTTL: number }[];
}

function distribution(params: ParamsInput = FULL) {
  const { template, stack } = synth(params);
  const config = only(template, 'AWS::CloudFront::Distribution').props
    .DistributionConfig as DistributionConfig;
  const behavior = (path: string) => config.CacheBehaviors.find((b) => b.PathPattern === path);
  const origin = (id: string) => config.Origins.find((o) => o.Id === id);
  const group = (id: string) => config.OriginGroups?.Items.find((g) => g.Id === id);
  /** The origins a behaviour may reach: its origin, or every member of its origin group. */
  const reaches = (b: Behavior) =>
    (group(b.TargetOriginId)?.Members.Items.map((m) => m.OriginId) ?? [b.TargetOriginId]).map(
      (id) => origin(id)!,
    );
  const functionCode = only(template, 'AWS::CloudFront::Function').props.FunctionCode as string;
  return { template, stack, config, behavior, origin, group, reaches, functionCode };
}

const bucketOrigin = (o: Origin) => o.OriginAccessControlId !== undefined;

describe('CloudFront serves images from S3, the API only for what S3 lacks', () => {
  const { template, config, behavior, group, reaches } = distribution();
  const bucketId = only(template, 'AWS::S3::Bucket').id;
  const oacId = only(template, 'AWS::CloudFront::OriginAccessControl').id;
  const functionId = only(template, 'AWS::CloudFront::Function').id;

  it('has the image behaviour and the private behaviour, in that order of precedence', () => {
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/private/*', '/img/*']);
  });

  it('reads the bucket through Origin Access Control, failing over to the API on 403/404', () => {
    for (const path of ['/img/*', '/private/*']) {
      const b = behavior(path)!;
      const g = group(b.TargetOriginId)!;
      expect(g.FailoverCriteria.StatusCodes.Items.sort()).toEqual([403, 404]);
      const [primary, fallback] = g.Members.Items.map(
        (m) => config.Origins.find((o) => o.Id === m.OriginId)!,
      );
      expect(render(primary!.DomainName)).toBe(`${bucketId}.RegionalDomainName`);
      expect(primary!.OriginAccessControlId).toEqual({ 'Fn::GetAtt': [oacId, 'Id'] });
      expect(fallback!.DomainName).toBe('api.example.com');
      expect(fallback!.OriginPath).toBe(EDGE_ORIGIN_PATH);
      expect(fallback!.CustomOriginConfig?.OriginProtocolPolicy).toBe('https-only');
      expect(b.AllowedMethods).toEqual(['GET', 'HEAD']);
      expect(b.ViewerProtocolPolicy).toBe('redirect-to-https');
      expect(b.FunctionAssociations).toEqual([
        { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': [functionId, 'FunctionARN'] } },
      ]);
    }
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({
        OriginAccessControlOriginType: 's3',
        SigningBehavior: 'always',
        SigningProtocol: 'sigv4',
      }),
    });
  });

  it('requires signed URLs from the key group on the private behaviour only', () => {
    const keyGroupId = only(template, 'AWS::CloudFront::KeyGroup').id;
    expect(behavior('/private/*')!.TrustedKeyGroups).toEqual([{ Ref: keyGroupId }]);
    expect(behavior('/img/*')!.TrustedKeyGroups).toBeUndefined();
    const keyId = only(template, 'AWS::CloudFront::PublicKey').id;
    template.hasResourceProperties('AWS::CloudFront::PublicKey', {
      PublicKeyConfig: Match.objectLike({ EncodedKey: PUBLIC_KEY_PEM }),
    });
    template.hasResourceProperties('AWS::CloudFront::KeyGroup', {
      KeyGroupConfig: Match.objectLike({ Items: [{ Ref: keyId }] }),
    });
  });

  it('lets only this distribution read the bucket, and only under variants/ and private/', () => {
    const statements = (
      only(template, 'AWS::S3::BucketPolicy').props.PolicyDocument as {
        Statement: {
          Effect: string;
          Principal?: unknown;
          Resource?: unknown;
          NotResource?: unknown[];
          Condition?: unknown;
        }[];
      }
    ).Statement.filter((s) => JSON.stringify(s.Principal) === '{"Service":"cloudfront.amazonaws.com"}');
    const allow = statements.filter((s) => s.Effect === 'Allow');
    expect(allow).toHaveLength(1);
    expect(render(allow[0]!.Resource)).toBe(`arn:${bucketId}/*`);
    expect(JSON.stringify(allow[0]!.Condition)).toContain('distribution/');
    const deny = statements.find((s) => s.Effect === 'Deny')!;
    expect(deny.NotResource!.map(render).sort()).toEqual([
      `arn:${bucketId}/private/*`,
      `arn:${bucketId}/variants/*`,
    ]);
  });

  it('passes everything else to the API uncached, never to the bucket', () => {
    const d = config.DefaultCacheBehavior;
    expect(reaches(d).map((o) => o.DomainName)).toEqual(['api.example.com']);
    expect(d.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad');
    expect(d.AllowedMethods).toContain('POST');
  });

  it('keys the image cache on the rewritten URI alone and sends the failover origin the viewer request', () => {
    template.hasResourceProperties('AWS::CloudFront::CachePolicy', {
      CachePolicyConfig: Match.objectLike({
        MinTTL: 0,
        MaxTTL: 365 * 86_400,
        ParametersInCacheKeyAndForwardedToOrigin: {
          HeadersConfig: { HeaderBehavior: 'none' },
          QueryStringsConfig: { QueryStringBehavior: 'none' },
          CookiesConfig: { CookieBehavior: 'none' },
          EnableAcceptEncodingGzip: false,
          EnableAcceptEncodingBrotli: false,
        },
      }),
    });
    template.hasResourceProperties('AWS::CloudFront::OriginRequestPolicy', {
      OriginRequestPolicyConfig: Match.objectLike({
        HeadersConfig: { HeaderBehavior: 'whitelist', Headers: ['accept', 'x-darkroom-request'] },
        QueryStringsConfig: { QueryStringBehavior: 'none' },
      }),
    });
    expect(config.CustomErrorResponses).toEqual([
      expect.objectContaining({ ErrorCode: 403, ErrorCachingMinTTL: 0 }),
      expect.objectContaining({ ErrorCode: 404, ErrorCachingMinTTL: 0 }),
    ]);
  });

  it('runs the edge function on cloudfront-js-2.0, built from the variants and secret, under 10 KB', () => {
    const code = functionSource({
      variants: parseVariants(CASE_CONFIG.variantsText),
      privatePath: '/private',
      transformSecret: CASE_CONFIG.transformSecret,
    });
    template.hasResourceProperties('AWS::CloudFront::Function', {
      AutoPublish: true,
      FunctionConfig: Match.objectLike({ Runtime: 'cloudfront-js-2.0' }),
      FunctionCode: code,
    });
    expect(Buffer.byteLength(code)).toBeLessThanOrEqual(MAX_FUNCTION_BYTES);
  });

  it('lets the API create invalidations on this distribution and tells it the id', () => {
    expect(JSON.stringify(template.toJSON())).toContain('cloudfront:CreateInvalidation');
    const env = JSON.stringify(template.toJSON().Outputs.ApiEnvironment);
    expect(env).toContain('DARKROOM_CLOUDFRONT_DISTRIBUTION_ID=');
    expect(env).toContain('DARKROOM_PRIVATE_PATH=/private');
    expect(env).toContain(`DARKROOM_VARIANTS=${CASE_CONFIG.variantsText}`);
  });
});

/**
 * CloudFront as synthesized, in small: the first behaviour whose path pattern matches, its trusted key group
 * (a canned-policy check with the template's public key), then the template's own function code.
 */
function edgeOf(params: ParamsInput = FULL) {
  const d = distribution(params);
  const fn = loadFunctionCode(d.functionCode);
  const publicKey = crypto.createPublicKey(
    (only(d.template, 'AWS::CloudFront::PublicKey').props.PublicKeyConfig as { EncodedKey: string })
      .EncodedKey,
  );
  const glob = (pattern: string, path: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(path);
  return (url: string, accept: string | undefined) => {
    const u = new URL(url);
    const b =
      d.config.CacheBehaviors.find((x) => glob(x.PathPattern!, u.pathname)) ?? d.config.DefaultCacheBehavior;
    if (b.TrustedKeyGroups) {
      const q = u.searchParams;
      const kept = [...q].filter(([k]) => !['Expires', 'Signature', 'Key-Pair-Id'].includes(k));
      const resource = `${u.origin}${u.pathname}${kept.length ? `?${kept.map(([k, v]) => `${k}=${v}`).join('&')}` : ''}`;
      const expires = Number(q.get('Expires'));
      const policy = JSON.stringify({
        Statement: [{ Resource: resource, Condition: { DateLessThan: { 'AWS:EpochTime': expires } } }],
      });
      const sig = Buffer.from(
        (q.get('Signature') ?? '').replace(/[-_~]/g, (c) => ({ '-': '+', _: '=', '~': '/' })[c]!),
        'base64',
      );
      const valid = crypto.verify('RSA-SHA1', Buffer.from(policy), publicKey, sig);
      if (!valid || expires <= Date.now() / 1000) return { refusedByKeyGroup: true as const, behavior: b };
    }
    if (!b.FunctionAssociations) return { origins: d.reaches(b), behavior: b };
    const out = fn.handler(viewerEvent(url, accept));
    return 'statusCode' in out
      ? { response: out as CloudFrontResponse, behavior: b }
      : { request: out as CloudFrontRequest, origins: d.reaches(b), behavior: b };
  };
}

describe('the synthesized edge against the case table', () => {
  const edge = edgeOf();
  const signCloudFront = (url: string, expires: number) =>
    getSignedUrl({
      url,
      keyPairId: 'K2JCJMDEHXQW5F',
      privateKey: PRIVATE_KEY_PEM,
      dateLessThan: new Date(expires * 1000).toISOString(),
    });
  const ids = { id: crypto.randomUUID(), pid: crypto.randomUUID() };

  it.each(EDGE_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const {
      url,
      accept,
      expect: want,
    } = materialise(c, { ids, base: 'https://d111111abcdef8.cloudfront.net', signCloudFront });
    const out = edge(url, accept);
    if ('key' in want) {
      // The key S3 is asked for (the API only if S3 lacks it; `origin` refusals are the API's).
      expect(out.request?.uri).toBe(`/${want.key}`);
      expect(out.origins!.some(bucketOrigin)).toBe(true);
    } else if (want.by === 'key-group') {
      expect(out.refusedByKeyGroup).toBe(true);
    } else {
      expect(out.response?.statusCode).toBe(want.status);
      expect(JSON.parse(out.response!.body.data).error.code).toBe(want.code);
    }
  });

  it('reaches a private key only through the key-group behaviour, whatever the URL', () => {
    const segments = ['thumb', 'medium', 'w_100?sig=x', '..', '%2e%2e', 'thumb%2f..%2f..'];
    const paths = [
      '/img/{id}/',
      '/private/{id}/',
      '/img/../private/{id}/',
      '/img//private/{id}/',
      '/IMG/{id}/',
      '/variants/{id}/',
      '/private/',
    ];
    for (const p of paths) {
      for (const s of segments) {
        const out = edge(`https://x${p.replace('{id}', ids.pid)}${s}`, 'image/avif');
        const key = out.request?.uri.slice(1);
        if (key?.startsWith('private/')) expect(out.behavior.TrustedKeyGroups, p + s).toBeDefined();
        // Whatever reaches the bucket went through the function (the default behaviour never does).
        if (out.origins?.some(bucketOrigin)) expect(out.behavior.FunctionAssociations, p + s).toBeDefined();
      }
    }
  });
});

describe('CloudFront parameters', () => {
  it('has no key group or private behaviour without a public key, and says private images go to the API', () => {
    const { template, config, stack } = distribution({ apiOriginDomain: 'origin.example.net' });
    template.resourceCountIs('AWS::CloudFront::KeyGroup', 0);
    template.resourceCountIs('AWS::CloudFront::PublicKey', 0);
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/img/*']);
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('no publicKeyPem'));
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('no transformSecret'));
  });

  it('moves the private behaviour, and the function and the API follow', () => {
    const { config, functionCode, template } = distribution({ ...FULL, privatePathPattern: '/p/*' });
    expect(config.CacheBehaviors.map((b) => b.PathPattern)).toEqual(['/p/*', '/img/*']);
    expect(functionCode).toContain('"privatePath":"/p"');
    expect(JSON.stringify(template.toJSON().Outputs.ApiEnvironment)).toContain('DARKROOM_PRIVATE_PATH=/p');
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
