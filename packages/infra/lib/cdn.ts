import { PRIVATE_PREFIX, VARIANTS_PREFIX } from '@darkroom/contract';
import { EDGE_ORIGIN_PATH, EDGE_REQUEST_HEADER, functionSource } from '@darkroom/edge';
import { Annotations, Duration } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { type DarkroomParams, privatePath, variantSpecs } from './params.ts';

/** Path pattern of the public delivery URLs (`/img/{id}/{variant}`, `/img/{id}/{transform}?sig=`). */
export const IMG_PATH = '/img/*';
/** What a browser may keep a private image for: the signed URL's default lifetime (DARKROOM_SIGNED_URL_TTL_SECONDS). */
export const PRIVATE_BROWSER_CACHE = 'private, max-age=3600';

/**
 * CloudFront in front of the bucket: a viewer-request function maps each image URL (and Accept) to its storage
 * key, S3 answers through Origin Access Control, and only what S3 lacks fails over to the API, which renders
 * and stores it. Private images have their own path, whose behaviour requires signed URLs from the key group.
 */
export class Cdn extends Construct {
  readonly distribution: cloudfront.Distribution;
  readonly edgeFunction: cloudfront.Function;
  readonly imageCachePolicy: cloudfront.CachePolicy;
  readonly imageOriginRequestPolicy: cloudfront.OriginRequestPolicy;
  /** Present when a public key was given: its id is DARKROOM_CLOUDFRONT_KEY_PAIR_ID. */
  readonly publicKey: cloudfront.PublicKey | undefined;
  readonly keyGroup: cloudfront.KeyGroup | undefined;

  constructor(scope: Construct, id: string, bucket: s3.Bucket, p: DarkroomParams) {
    super(scope, id);
    this.edgeFunction = new cloudfront.Function(this, 'EdgeFunction', {
      comment: 'Darkroom: /img and private URLs + Accept -> storage key; transform signatures',
      code: cloudfront.FunctionCode.fromInline(
        functionSource({
          variants: variantSpecs(p),
          privatePath: privatePath(p),
          transformSecret: p.transformSecret,
        }),
      ),
      runtime: cloudfront.FunctionRuntime.JS_2_0,
    });
    if (p.transformSecret === undefined) {
      Annotations.of(this).addWarningV2(
        'darkroom:noTransformSecret',
        'no transformSecret: the edge refuses every transform URL (pass -c transformSecret=$DARKROOM_TRANSFORM_SECRET)',
      );
    }
    // The function rewrites the URI to the storage key, which encodes the format and the transform: the key
    // is all the cache needs. Never Accept (hundreds of values), never the signatures (checked before).
    this.imageCachePolicy = new cloudfront.CachePolicy(this, 'ImageCachePolicy', {
      comment: 'Darkroom images: the storage key the edge function rewrote the URI to',
      headerBehavior: cloudfront.CacheHeaderBehavior.none(),
      queryStringBehavior: cloudfront.CacheQueryStringBehavior.none(),
      cookieBehavior: cloudfront.CacheCookieBehavior.none(),
      // Objects say immutable for a year; errors say private (never stored).
      minTtl: Duration.seconds(0),
      defaultTtl: Duration.days(1),
      maxTtl: Duration.days(365),
      // Images are already compressed; gzip variants would only split the cache.
      enableAcceptEncodingGzip: false,
      enableAcceptEncodingBrotli: false,
    });
    // What the API needs should S3 lack the key: the viewer request (with any signature) and the class.
    this.imageOriginRequestPolicy = new cloudfront.OriginRequestPolicy(this, 'ImageOriginRequestPolicy', {
      comment: `Darkroom images: ${EDGE_REQUEST_HEADER} and the normalised Accept, for the failover origin`,
      headerBehavior: cloudfront.OriginRequestHeaderBehavior.allowList('accept', EDGE_REQUEST_HEADER),
      queryStringBehavior: cloudfront.OriginRequestQueryStringBehavior.none(),
      cookieBehavior: cloudfront.OriginRequestCookieBehavior.none(),
    });
    const headers = (name: string, cacheControl?: string) =>
      new cloudfront.ResponseHeadersPolicy(this, name, {
        comment: 'Darkroom images: Vary: Accept (one URL, one format per Accept class)',
        customHeadersBehavior: {
          customHeaders: [
            { header: 'Vary', value: 'Accept', override: false },
            ...(cacheControl ? [{ header: 'Cache-Control', value: cacheControl, override: false }] : []),
          ],
        },
      });

    // S3 first; what it lacks (403 without ListBucket, 404) goes to the API's /_edge/{key}, which renders it,
    // stores it under the same key and answers. The bucket stays private: only this distribution reads it.
    const images = new origins.OriginGroup({
      primaryOrigin: origins.S3BucketOrigin.withOriginAccessControl(bucket),
      fallbackOrigin: new origins.HttpOrigin(p.apiOriginDomain, {
        originPath: EDGE_ORIGIN_PATH,
        protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
      }),
      fallbackStatusCodes: [403, 404],
    });
    const imageBehavior: cloudfront.BehaviorOptions = {
      origin: images,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
      cachedMethods: cloudfront.CachedMethods.CACHE_GET_HEAD,
      cachePolicy: this.imageCachePolicy,
      originRequestPolicy: this.imageOriginRequestPolicy,
      functionAssociations: [
        { function: this.edgeFunction, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
      ],
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
      // CloudFront refuses unsigned, expired and altered URLs here before the function runs; viewers get a
      // private cache policy (the objects carry none, so the edge caches them by its own TTLs).
      additionalBehaviors[p.privatePathPattern] = {
        ...imageBehavior,
        trustedKeyGroups: [this.keyGroup],
        responseHeadersPolicy: headers('PrivateImageHeaders', PRIVATE_BROWSER_CACHE),
      };
    } else {
      Annotations.of(this).addWarningV2(
        'darkroom:noPublicKey',
        `no publicKeyPem: ${p.privatePathPattern} has no signed-URL behaviour, so private images are served by the API (default behaviour), not from S3`,
      );
    }
    additionalBehaviors[IMG_PATH] = { ...imageBehavior, responseHeadersPolicy: headers('ImageHeaders') };

    const api = new origins.HttpOrigin(p.apiOriginDomain, {
      protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY,
    });
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
      // A refusal or a miss is never kept: an image that was not ready a second ago may be now.
      errorResponses: [403, 404].map((httpStatus) => ({ httpStatus, ttl: Duration.seconds(0) })),
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

    // The OAC grant covers the whole bucket (`bucket/*`); originals are not CloudFront's to read, so an
    // explicit deny narrows it to the delivery prefixes whatever key a request manages to name.
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudFrontReadsOnlyDeliveryPrefixes',
        effect: iam.Effect.DENY,
        principals: [new iam.ServicePrincipal('cloudfront.amazonaws.com')],
        actions: ['s3:GetObject'],
        notResources: [
          bucket.arnForObjects(`${VARIANTS_PREFIX}*`),
          bucket.arnForObjects(`${PRIVATE_PREFIX}*`),
        ],
      }),
    );
  }
}
