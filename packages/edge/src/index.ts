/**
 * @module The CDN edge as code: Darkroom's CloudFront Function (viewer request) and a loader that runs the
 * same source in Node, so the local delivery route decides exactly as CloudFront does. Constants only the
 * edge and its origin share (the private path, the header the edge hands the origin) live here too; key
 * prefixes and the variant grammar are the contract's.
 */
import nodeCrypto from 'node:crypto';
import fs from 'node:fs';
import vm from 'node:vm';
import { type VariantFormat, type VariantSpec, variantFormats } from '@darkroom/contract';

/** Default viewer path of private images (`/private/{id}/{variant}`), the CDK's `/private/*` behaviour. */
export const DEFAULT_PRIVATE_PATH = '/private';
/** The viewer request (path, transform `sig`, private signature) the function hands an origin with the key. */
export const EDGE_REQUEST_HEADER = 'x-darkroom-request';
/** Where CloudFront's failover origin (the API) is asked for a key S3 lacks: `/_edge/{key}`. */
export const EDGE_ORIGIN_PATH = '/_edge';
/** The file extension of each stored format; `fallback` is the JPEG-or-PNG rendered for old clients. */
export const EXTENSIONS = {
  webp: 'webp',
  avif: 'avif',
  jpeg: 'jpg',
  png: 'png',
  fallback: 'fallback',
} as const;
/** CloudFront Functions refuse code over 10 KB. */
export const MAX_FUNCTION_BYTES = 10 * 1024;

/** What the function knows, fixed at synth time (CDK) or start-up (local route). */
export interface EdgeConfig {
  /** Each variant's stored formats, the primary first (from DARKROOM_VARIANTS). */
  readonly variants: readonly VariantSpec[];
  /** Viewer path of private images, e.g. `/private`. */
  readonly privatePath: string;
  /** HMAC key of transform URLs; undefined or empty: the edge refuses every transform. */
  readonly transformSecret?: string | undefined;
}

/** A stored representation's format; `fallback` is JPEG (PNG for images with alpha) made on the first request. */
export type EdgeFormat = VariantFormat | 'fallback';
/** The normalised Accept class: the only thing the representation depends on. */
export type FormatChoice = 'avif' | 'webp' | 'original';

/** The function's answer for a request it serves: one storage key and what the origin needs to make it. */
export interface EdgeKey {
  key: string;
  id: string;
  private: boolean;
  kind: 'variant' | 'transform';
  /** The variant name or the transform options exactly as requested. */
  segment: string;
  format: EdgeFormat;
  /** The class the representation answers (`x-darkroom-format`). */
  choice: FormatChoice;
  /** The class the request asked for (Accept or `?f=`). */
  accepted: FormatChoice;
  /** Whether the URL answers differently per class (then `Vary: Accept`). */
  negotiated: boolean;
  /** Transforms: the canonical options, format resolved (what the key's digest covers). */
  options?: string;
  /** Transforms: the parsed options; 0 means not given (w, h: keep the aspect ratio; q: the encoder's default). */
  transform?: TransformRequest;
  /** The viewer request in canonical form (path and `?sig=`): the origin re-checks it on a miss. */
  request: string;
}

/** Transform options as the function parsed them (`f` as requested: `auto` is resolved into `format`). */
export interface TransformRequest {
  w: number;
  h: number;
  fit: 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
  f: 'webp' | 'avif' | 'jpeg' | 'png' | 'auto';
  q: number;
}

/** A request the edge answers itself, never reaching an origin. */
export interface EdgeRefusal {
  refuse: {
    status: 400 | 403 | 404;
    code: 'not_found' | 'bad_signature' | 'invalid_transform';
    message: string;
  };
}

export type EdgeDecision = EdgeKey | EdgeRefusal;

/** A query parameter: undefined when absent, null when given more than once. */
export type ParamReader = (name: string) => string | null | undefined;

/** CloudFront Functions' event shapes, as much as the function uses. */
export interface CloudFrontRequest {
  uri: string;
  querystring: Record<string, { value: string; multiValue?: { value: string }[] }>;
  headers: Record<string, { value: string }>;
  method?: string;
}
export interface CloudFrontResponse {
  statusCode: number;
  statusDescription?: string;
  headers: Record<string, { value: string }>;
  body: { encoding: 'text'; data: string };
}

/** The function as loaded in Node: CloudFront's entry point and the decision it is built on. */
export interface ViewerRequestFunction {
  handler(event: { request: CloudFrontRequest }): CloudFrontRequest | CloudFrontResponse;
  route(uri: string, param: ParamReader, accept: string | undefined): EdgeDecision;
}

const SOURCE = fs.readFileSync(new URL('../function/viewer-request.js', import.meta.url), 'utf8');

/** The function's code for CloudFront: CONFIG, then the source without comment lines or indentation. */
export function functionSource(config: EdgeConfig): string {
  if (!/^(\/[A-Za-z0-9_.-]+)+$/.test(config.privatePath) || config.privatePath === '/img') {
    throw new Error(`privatePath must be a path such as /private, not /img (got "${config.privatePath}")`);
  }
  const variants = Object.fromEntries(config.variants.map((v) => [v.name, variantFormats(v)]));
  const body = SOURCE.split('\n')
    .map((line) => line.trim())
    .filter(
      (line) => line !== '' && !line.startsWith('//') && !line.startsWith('/*') && !line.startsWith('*'),
    )
    .join('\n');
  const constants = { variants, privatePath: config.privatePath, secret: config.transformSecret ?? '' };
  return `var CONFIG = ${JSON.stringify(constants)};\n${body}\n`;
}

/**
 * The part of the cloudfront-js-2.0 `crypto` module the function may use (createHash, createHmac, digest
 * to hex/base64/base64url), backed by Node's: anything else the source tried would fail here as at the edge.
 */
const cryptoShim = Object.freeze({
  createHash: (algorithm: string) => digester(nodeCrypto.createHash(algorithm)),
  createHmac: (algorithm: string, key: string) => digester(nodeCrypto.createHmac(algorithm, key)),
});

function digester(h: nodeCrypto.Hash | nodeCrypto.Hmac) {
  const api = {
    update(data: string) {
      h.update(data);
      return api;
    },
    digest(encoding: 'hex' | 'base64' | 'base64url') {
      if (!['hex', 'base64', 'base64url'].includes(encoding)) throw new TypeError(`digest(${encoding})`);
      return h.digest(encoding);
    },
  };
  return api;
}

/** Runs {@link functionSource} in a bare `node:vm` context (no Node globals; `require` knows only `crypto`). */
export function loadViewerRequest(config: EdgeConfig): ViewerRequestFunction {
  return loadFunctionCode(functionSource(config));
}

/** Runs function code as CloudFront would (e.g. the code in a synthesized template), in a bare context. */
export function loadFunctionCode(code: string): ViewerRequestFunction {
  const context = vm.createContext({
    require: (name: string) => {
      if (name !== 'crypto') throw new Error(`CloudFront Functions have no module ${name}`);
      return cryptoShim;
    },
  });
  vm.runInContext(code, context, { filename: 'viewer-request.js' });
  const fn = context as unknown as ViewerRequestFunction;
  return { handler: fn.handler, route: fn.route };
}

/** The event CloudFront builds from a viewer URL: querystring values as received, repeated names as multiValue. */
export function viewerEvent(url: string, accept: string | undefined): { request: CloudFrontRequest } {
  const u = new URL(url);
  const querystring: CloudFrontRequest['querystring'] = {};
  for (const pair of u.search.slice(1).split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const [name, value] = eq === -1 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    const prev = querystring[name];
    if (prev) prev.multiValue = [...(prev.multiValue ?? [{ value: prev.value }]), { value }];
    else querystring[name] = { value };
  }
  return {
    request: {
      method: 'GET',
      uri: u.pathname,
      querystring,
      headers: accept === undefined ? {} : { accept: { value: accept } },
    },
  };
}

/** Whether the decision is a refusal. */
export function isRefusal(d: EdgeDecision): d is EdgeRefusal {
  return 'refuse' in d;
}
