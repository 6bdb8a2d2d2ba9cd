import { decodeJwt } from 'jose';
import { mintToken, parseDuration } from '../api/auth/jwt.ts';
import type { Config } from '../config.ts';

export interface TokenCommandResult {
  /** The signed JWT; the CLI prints it alone on stdout so `$(darkroom token …)` works. */
  readonly token: string;
  readonly expiresAt: Date;
  /** True when signed with the built-in development secret: the CLI should warn on stderr. */
  readonly usingDevSecret: boolean;
}

/** Mints an HS256 API token for `sub` valid for `ttl` (e.g. 1h), with the configured issuer/audience. */
export async function runTokenCommand(
  config: Config,
  opts: { sub: string; ttl: string },
): Promise<TokenCommandResult> {
  const { secret, issuer, audience, usingDevSecret } = config.jwt;
  if (secret === undefined) {
    throw new Error(
      'Cannot mint tokens: DARKROOM_JWT_JWKS_URL is set, so tokens are issued by your identity provider, ' +
        'not by Darkroom. Set DARKROOM_JWT_SECRET to use HS256 tokens instead.',
    );
  }
  if (opts.sub.trim() === '') throw new Error('--sub must not be empty');
  const ttlSeconds = parseDuration(opts.ttl);
  const token = await mintToken(secret, {
    sub: opts.sub,
    ttlSeconds,
    ...(issuer === undefined ? {} : { issuer }),
    ...(audience === undefined ? {} : { audience }),
  });
  return { token, expiresAt: new Date(decodeJwt(token).exp! * 1000), usingDevSecret };
}
