import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  type ProtectedHeaderParameters,
  SignJWT,
} from 'jose';
import type { Config } from '../../config.ts';
import { ApiError } from '../errors.ts';

/** The authenticated owner of a request. */
export interface Caller {
  sub: string;
}

export interface TokenVerifier {
  /** Resolves the caller from an `Authorization` header value; throws ApiError otherwise. */
  verify(authorizationHeader: string | undefined): Promise<Caller>;
}

/** `sub` becomes the owner column, a varchar(255) (characters, as PostgreSQL counts them). */
const MAX_SUB_LENGTH = 255;

/** Tolerates small clock differences between the token issuer and this server. */
const CLOCK_TOLERANCE_SECONDS = 30;

const HMAC_ALGORITHMS = ['HS256'] as const;
// Only asymmetric algorithms for JWKS keys: accepting HS* here would let anyone who knows the public
// key (which is public) forge tokens by using it as an HMAC secret.
const JWKS_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

/** Raised inside the key resolver so verify() can tell "IdP unreachable" from "token is bad". */
class SigningKeysUnavailable extends Error {}

/** Verified tokens kept, and for how long at most (a JWKS key's revocation takes effect within it). */
const VERIFIED_CACHE_SIZE = 10_000;
const VERIFIED_CACHE_MS = 5 * 60_000;

/**
 * HS256 with `jwt.secret`, or asymmetric algorithms (RS*, PS*, ES*, EdDSA) with keys from `jwt.jwksUrl`
 * (cached, refetched on an unknown kid at most every 30 s); with both configured, the token's `alg` picks.
 */
export function createTokenVerifier(jwt: Config['jwt']): TokenVerifier {
  // Imported once: handing jose raw bytes makes it import a WebCrypto key on every verification.
  const secret =
    jwt.secret === undefined
      ? undefined
      : crypto.subtle.importKey(
          'raw',
          new TextEncoder().encode(jwt.secret),
          { name: 'HMAC', hash: 'SHA-256' },
          false,
          ['verify'],
        );
  const jwks =
    jwt.jwksUrl === undefined
      ? undefined
      : createRemoteJWKSet(new URL(jwt.jwksUrl), {
          timeoutDuration: 5_000,
          // Bounds how often a flood of tokens with unknown kids can make us hit the IdP.
          cooldownDuration: 30_000,
          cacheMaxAge: 10 * 60_000,
        });
  if (secret === undefined && jwks === undefined) {
    throw new Error('JWT verification needs DARKROOM_JWT_SECRET or DARKROOM_JWT_JWKS_URL');
  }
  // Clients send the same token on every request; a verified token (keyed by its whole text, signature
  // included, so nothing else can hit the entry) is trusted again until it expires or for a few minutes,
  // whichever comes first, instead of repeating the HMAC or RSA check each time.
  const verified = new Map<string, { sub: string; until: number }>();
  const remember = (token: string, sub: string, exp: number) => {
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
    verified.set(token, { sub, until: Math.min(exp * 1000, Date.now() + VERIFIED_CACHE_MS) });
  };
  const allowed: readonly string[] = [...(secret ? HMAC_ALGORITHMS : []), ...(jwks ? JWKS_ALGORITHMS : [])];

  const getKey: JWTVerifyGetKey = async (header, token) => {
    if (header.alg === 'HS256' && secret) return secret;
    if (!jwks) throw new ApiError('invalid_token', `The bearer token uses ${header.alg}; expected HS256.`);
    try {
      return await jwks(header, token);
    } catch (err) {
      if (
        err instanceof errors.JWKSNoMatchingKey ||
        err instanceof errors.JWKSMultipleMatchingKeys ||
        err instanceof errors.JOSENotSupported
      ) {
        throw err;
      }
      throw new SigningKeysUnavailable('JWKS fetch failed', { cause: err });
    }
  };

  return {
    async verify(authorizationHeader) {
      const token = bearerToken(authorizationHeader);
      const cached = verified.get(token);
      if (cached && cached.until > Date.now()) return { sub: cached.sub };
      verified.delete(token);
      const header = readHeader(token);
      if (header.alg === 'none') {
        throw new ApiError('invalid_token', 'The bearer token is unsigned (alg "none"); it must be signed.');
      }
      if (typeof header.alg !== 'string' || !allowed.includes(header.alg)) {
        throw new ApiError(
          'invalid_token',
          `The bearer token is signed with ${JSON.stringify(header.alg)}, which this server does not accept; ` +
            `accepted: ${allowed.join(', ')}.`,
        );
      }
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, getKey, {
          algorithms: [...allowed],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['exp', 'sub'],
          ...(jwt.issuer === undefined ? {} : { issuer: jwt.issuer }),
          ...(jwt.audience === undefined ? {} : { audience: jwt.audience }),
        }));
      } catch (err) {
        throw toApiError(err, header, jwt);
      }
      if (typeof payload.sub !== 'string' || payload.sub.trim() === '') {
        throw new ApiError('invalid_token', 'The bearer token\'s "sub" claim must be a non-empty string.');
      }
      if ([...payload.sub].length > MAX_SUB_LENGTH) {
        throw new ApiError(
          'invalid_token',
          `The bearer token's "sub" claim must be at most ${MAX_SUB_LENGTH} characters.`,
        );
      }
      remember(token, payload.sub, payload.exp!);
      return { sub: payload.sub };
    },
  };
}

function bearerToken(authorizationHeader: string | undefined): string {
  if (authorizationHeader === undefined || authorizationHeader.trim() === '') {
    throw new ApiError('unauthorized');
  }
  // The scheme is case-insensitive (RFC 9110 §11.1).
  const match = /^Bearer +([^\s]+) *$/i.exec(authorizationHeader);
  if (!match) {
    // Echo the scheme only when it looks like one, so a bare token never ends up in a response or log.
    const scheme = /^([A-Za-z][\w-]{0,19})\s/.exec(authorizationHeader)?.[1];
    throw new ApiError(
      'unauthorized',
      /^bearer\s*$/i.test(authorizationHeader)
        ? 'The Authorization header has no token: send Authorization: Bearer <JWT>.'
        : `The Authorization header must use the Bearer scheme${scheme ? ` (got "${scheme}")` : ''}: ` +
            'send Authorization: Bearer <JWT>.',
    );
  }
  return match[1]!;
}

function readHeader(token: string): ProtectedHeaderParameters {
  try {
    return decodeProtectedHeader(token);
  } catch (err) {
    throw new ApiError(
      'invalid_token',
      'The bearer token is malformed: expected a JWT (three base64url parts: header.payload.signature).',
      {},
      { cause: err },
    );
  }
}

function toApiError(err: unknown, header: ProtectedHeaderParameters, jwt: Config['jwt']): ApiError {
  if (err instanceof ApiError) return err;
  const invalid = (message: string) => new ApiError('invalid_token', message, {}, { cause: err });
  if (err instanceof errors.JWTExpired) {
    const exp = err.payload.exp;
    const when = typeof exp === 'number' ? ` at ${new Date(exp * 1000).toISOString()}` : '';
    return new ApiError(
      'token_expired',
      `The bearer token expired${when}; get a new one.`,
      {},
      { cause: err },
    );
  }
  if (err instanceof errors.JWTClaimValidationFailed) return invalid(claimMessage(err, jwt));
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return invalid(
      header.alg === 'HS256'
        ? "The bearer token's signature does not match this server's HS256 secret: it was signed with another one. Mint tokens with the DARKROOM_JWT_SECRET this server runs with (`npx darkroom token` reads it from the same environment or .env)."
        : "The bearer token's signature does not match the JWKS key it names.",
    );
  }
  if (err instanceof errors.JWKSNoMatchingKey) {
    const kid = header.kid === undefined ? 'no kid' : `kid ${JSON.stringify(header.kid)}`;
    return invalid(`No signing key in the JWKS matches the bearer token (${kid}, alg ${header.alg}).`);
  }
  if (err instanceof errors.JWKSMultipleMatchingKeys) {
    return invalid('Several JWKS keys match the bearer token; it must name one with a "kid" header.');
  }
  if (err instanceof SigningKeysUnavailable) {
    return invalid('The bearer token could not be checked: could not fetch signing keys from the JWKS URL.');
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) {
    return invalid(`The bearer token's algorithm or key type (${header.alg}) is not supported.`);
  }
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) {
    // jose's messages here describe structure only (never key material), so they are safe to pass on.
    return invalid(`The bearer token is malformed: ${err.message}.`);
  }
  return invalid('The bearer token could not be verified.');
}

function claimMessage(err: InstanceType<typeof errors.JWTClaimValidationFailed>, jwt: Config['jwt']): string {
  const got = (value: unknown) => (value === undefined ? 'none' : JSON.stringify(value).slice(0, 100));
  if (err.reason === 'missing') {
    if (err.claim === 'exp') {
      return 'The bearer token has no "exp" claim; tokens must expire so a leaked one does not work forever.';
    }
    return `The bearer token has no "${err.claim}" claim, which this server requires.`;
  }
  if (err.reason === 'invalid') {
    return `The bearer token's "${err.claim}" claim must be a number of seconds since the Unix epoch.`;
  }
  switch (err.claim) {
    case 'iss':
      return `The bearer token's issuer ("iss": ${got(err.payload.iss)}) is not the expected ${JSON.stringify(jwt.issuer)}.`;
    case 'aud':
      return `The bearer token's audience ("aud": ${got(err.payload.aud)}) does not include ${JSON.stringify(jwt.audience)}.`;
    case 'nbf':
      return 'The bearer token is not valid yet ("nbf" is in the future); check the issuing clock.';
    default:
      return `The bearer token's "${err.claim}" claim is not valid.`;
  }
}

/** Mints an HS256 token (for `darkroom token` and tests). */
export async function mintToken(
  secret: string,
  claims: { sub: string; ttlSeconds: number; issuer?: string; audience?: string },
): Promise<string> {
  if (claims.sub.trim() === '') throw new Error('sub must not be empty');
  if (!Number.isSafeInteger(claims.ttlSeconds) || claims.ttlSeconds <= 0) {
    throw new Error(`ttlSeconds must be a positive whole number (got ${claims.ttlSeconds})`);
  }
  const now = Math.floor(Date.now() / 1000);
  let builder = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setExpirationTime(now + claims.ttlSeconds);
  if (claims.issuer !== undefined) builder = builder.setIssuer(claims.issuer);
  if (claims.audience !== undefined) builder = builder.setAudience(claims.audience);
  return builder.sign(new TextEncoder().encode(secret));
}

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Parses durations like 90s, 15m, 1h, 7d, or plain seconds; throws a clear Error otherwise. */
export function parseDuration(text: string): number {
  const match = /^(\d+)\s*([smhd]?)$/i.exec(text.trim());
  const seconds = match ? Number(match[1]) * (UNIT_SECONDS[match[2]!.toLowerCase()] ?? 1) : Number.NaN;
  if (!Number.isSafeInteger(seconds) || seconds <= 0) {
    throw new Error(
      `Invalid duration ${JSON.stringify(text)}: expected a positive whole number with an optional unit ` +
        's, m, h or d (e.g. 90s, 15m, 1h, 7d, or 3600 for seconds).',
    );
  }
  return seconds;
}
