import { Annotations, Duration } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { FORMAT_FUNCTION_CODE, FORMAT_HEADER } from './format-function.ts';
import type { DarkroomParams } from './params.ts';
import { VARIANTS_PREFIX } from './storage.ts';

/** Path pattern of the behaviour that serves variants straight from the bucket. */
export const VARIANTS_PATH = `/${VARIANTS_PREFIX}*`;
/** Path pattern of the delivery routes (`/img/{id}/{variant}`, `/img/{id}/{transform}?sig=`). */
export const IMG_PATH = '/img/*';
/**
 * Query parameters that select a different response on `/img/*` and so belong in the cache key: the
 * transform signature, the format override, and the canned-policy signature of a private image's URL, so
 * an unsigned request can never be answered from a signed request's cached copy.
 */
export const IMG_CACHE_QUERY = ['sig', 'f', 'Expires', 'Key-Pair-Id', 'Signature', 'Hash-Algorithm'];

/** CloudFront in front of the bucket (variants) and the Darkroom delivery routes. */
export class Cdn extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly formatFunction: cloudfront.Function;
  readonly imageCachePolicy: cloudfront.CachePolicy;
  readonly imageOriginRequestPolicy: cloudfront.OriginRequestPolicy;
  /** Present when a public key was given: its id is DARKROOM_CLOUDFRONT_KEY_PAIR_ID. */
  readonly publicKey: cloudfront.PublicKey | undefined;
  readonly keyGroup: cloudfront.KeyGroup | undefined;

  constructor(scope: Construct, id: string, bucket: s3.Bucket, p: DarkroomParams) {
    super(scope, id);
    this.formatFunction = new cloudfront.Function(this, 'FormatFunction', {
      comment: `Darkroom: Accept -> ${FORMAT_HEADER} (avif|webp|original)`,
      code: cloudfront.FunctionCode.fromInline(FORMAT_FUNCTION_CODE),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });
    // Keyed on the normalised format, never on raw Accept (hundreds of distinct values across browsers).
    // TTLs defer to the origin: immutable variants say a year, misses and not-ready images say 60 s.
    this.imageCachePolicy = new cloudfront.CachePolicy(this, 'ImageCachePolicy', {
      comment: `Darkroom images: path + ${FORMAT_HEADER} + ${IMG_CACHE_QUERY.join(', ')}`,
      headerBehavior: cloudfront.CacheHeaderBehavior.allowList(FORMAT_HEADER),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.allowList(...IMG_CACHE_QUERY),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.days(1),
      maxTtl: Duration.days(365),
      // Images are already compressed; gzip variants would only split the cache.
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
    });
    // The origin also sees the (normalised) Accept so it can negotiate without knowing the custom header, and
    // every query parameter so it can check private-image signatures itself; none of it enters the cache key.
    this.imageOriginRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'ImageOriginRequestPolicy', {
      comment: 'Darkroom images: normalised Accept and query strings to the origin',
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList('accept'),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.all(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });

    const api = new origins.HttpOrigin(p.apiOriginDomain, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    });
    const functionAssociations = [
      { function: this.formatFunction, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
    ];
    const imageBehavior: cloudfront.BehaviorOptions = {
      origin: api,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
      cachePolicy: this.imageCachePolicy,
      originRequestPolicy: this.imageOriginRequestPolicy,
      functionAssociations,
    };

    const additionalBehaviors: Record<string, cloudfront.BehaviorOptions> = {};
    if (p.publicKeyPem !== undefined) {
      this.publicKey = new cloudfront.PublicKey(this, 'SigningPublicKey', {
        encodedKey: p.publicKeyPem,
        comment: 'Darkroom private-image URLs (DARKROOM_CLOUDFRONT_KEY_PAIR_ID is this id)',
      });
      this.keyGroup = new cloudfront.KeyGroup(this, 'SigningKeyGroup', {
        items: [this.publicKey],
        comment: 'Darkroom private-image URLs',
      });
      // Listed first: a distinct path means private responses never share a cache key with public ones.
      additionalBehaviors[p.privatePathPattern] = { ...imageBehavior, trustedKeyGroups: [this.keyGroup] };
    }
    additionalBehaviors[IMG_PATH] = imageBehavior;
    if (p.serveVariantsFromBucket) {
      Annotations.of(this).addWarningV2(
        'darkroom:unsignedVariants',
        `${VARIANTS_PATH} serves every variant without a signature, private images' included; use it only where no image is private`,
      );
      additionalBehaviors[VARIANTS_PATH] = {
        origin: origins.S3BucketOrigin.withOriginAccessControl(bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
      };
    }

    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Darkroom image delivery',
      // Everything else (the API, the web app) passes through uncached, so the CDN host can front the whole app.
      defaultBehavior: {
        origin: api,
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      },
      additionalBehaviors,
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: {
        '100': cloudfront.PriceClass.PRICE_CLASS_100,
        '200': cloudfront.PriceClass.PRICE_CLASS_200,
        All: cloudfront.PriceClass.PRICE_CLASS_ALL,
      }[p.priceClass],
      domainNames: p.domainNames.length > 0 ? [...p.domainNames] : undefined,
      certificate:
        p.certificateArn === undefined
          ? undefined
          : acm.Certificate.fromCertificateArn(this, 'Certificate', p.certificateArn),
      // Explicit, so the TLS floor does not depend on which CDK feature flags the app happens to set.
      minimumProtocolVersion:
        p.certificateArn === undefined ? undefined : cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    });

    if (p.serveVariantsFromBucket) {
      // The OAC grant covers the whole bucket (`bucket/*`); originals are not CloudFront's to read, so an
      // explicit deny narrows it to variants/ whatever path a viewer manages to send.
      bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid: 'CloudFrontReadsOnlyVariants',
          effect: iam.Effect.DENY,
          principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
          actions: ['s3:GetObject'],
          notResources: [bucket.arnForObjects(`${VARIANTS_PREFIX}*`)],
        }),
      );
    }
  }
}
