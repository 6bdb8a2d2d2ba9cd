import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import type { AccessKey } from '@darkroom/aws-auth';
import { type Config, ConfigError, DEV_ACCESS_KEY_ID, DEV_SECRET_ACCESS_KEY } from '../config.ts';
import { loadOrCreateSecretFile } from './key-file.ts';

/**
 * The rule for the published development secrets (the S3 key pair, the JWT secret, the transform secret,
 * all printed in the README and the source):
 *
 * - They are used only in development: on a loopback DARKROOM_HOST. On any other host a role refuses to
 *   start while it would use one, and names the variable to set.
 * - The published S3 key pair also needs "nothing of your own": once any secret of your own is set
 *   (JWT secret or JWKS, transform secret, webhook secrets, CloudFront key), the embedded S3 and SQS
 *   servers stop accepting it. With DARKROOM_S3_ACCESS_KEY_ID/SECRET unset they then use a key pair
 *   generated for the data dir ({DATA_DIR}/keys/s3-access-key.json, mode 0600), which every role sharing
 *   the data dir reads; set to the published values, the role refuses to start.
 */

/** A role, as far as secrets go: which of them it uses. */
export type Role = 'start' | 'api' | 'worker' | 's3' | 'sqs' | 'setup';

/** Where the generated S3 key pair lives in the data dir. */
export function generatedKeyPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 's3-access-key.json');
}

/** Whether a listen address only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost') return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  if (net.isIPv6(bare)) return bare === '::1' || /^::ffff:127\./.test(bare);
  return false;
}

function isPublishedPair(key: AccessKey): boolean {
  return key.accessKeyId === DEV_ACCESS_KEY_ID || key.secretAccessKey === DEV_SECRET_ACCESS_KEY;
}

/** The variables of the secrets the operator set to values of their own. */
export function ownSecrets(config: Config): string[] {
  const own: string[] = [];
  if (!config.jwt.usingDevSecret)
    own.push(config.jwt.jwksUrl ? 'DARKROOM_JWT_JWKS_URL' : 'DARKROOM_JWT_SECRET');
  if (!config.delivery.usingDevTransformSecret) own.push('DARKROOM_TRANSFORM_SECRET');
  if (config.webhook.secret) own.push('DARKROOM_WEBHOOK_SECRET');
  if (config.s3WebhookSecret) own.push('DARKROOM_S3_WEBHOOK_SECRET');
  if (config.delivery.cloudfront?.privateKeyPem) own.push('DARKROOM_CLOUDFRONT_PRIVATE_KEY');
  return own;
}

/** Whether the role serves the embedded S3/SQS servers or signs requests to them. */
function usesEmbeddedKeys(config: Config, role: Role): boolean {
  if (role === 'start' || role === 's3' || role === 'sqs') return true;
  return config.s3.endpoint === undefined || config.sqs.queueUrl === undefined;
}

/**
 * Applies the rule above for `role`: throws ConfigError naming each variable to set, or returns the
 * configuration with the S3 key pair it must use (the generated one where the published pair would no
 * longer do). Idempotent, so every role may call it, also when `darkroom start` already has.
 */
export async function resolveSecrets(config: Config, role: Role): Promise<Config> {
  const problems: string[] = [];
  const loopback = isLoopbackHost(config.host);
  const where = `DARKROOM_HOST (${config.host}) is not a loopback address`;
  if (!loopback && (role === 'start' || role === 'api')) {
    if (config.jwt.usingDevSecret) {
      problems.push(
        `DARKROOM_JWT_SECRET: the published development secret cannot be used because ${where}; set DARKROOM_JWT_SECRET (at least 16 random characters) or DARKROOM_JWT_JWKS_URL`,
      );
    }
    if (config.delivery.usingDevTransformSecret) {
      problems.push(
        `DARKROOM_TRANSFORM_SECRET: the published development secret cannot be used because ${where}; set DARKROOM_TRANSFORM_SECRET (at least 16 random characters)`,
      );
    }
  }
  const own = ownSecrets(config);
  const embedded = usesEmbeddedKeys(config, role);
  let accessKeys = config.s3.accessKeys;
  let source = config.s3.accessKeySource;
  if (embedded && source === 'development' && own.length > 0) {
    accessKeys = [await loadOrCreateGeneratedKey(config.dataDir)];
    source = 'generated';
  }
  if (embedded && accessKeys.some(isPublishedPair)) {
    const why = !loopback ? where : `your own secrets are set (${own.join(', ')})`;
    if (!loopback || own.length > 0) {
      problems.push(
        `DARKROOM_S3_ACCESS_KEY_ID / DARKROOM_S3_SECRET_ACCESS_KEY: the published development key pair cannot be used because ${why}; set both to a key pair of your own`,
      );
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (source === config.s3.accessKeySource) return config;
  return Object.freeze({
    ...config,
    s3: Object.freeze({ ...config.s3, accessKeys: Object.freeze(accessKeys), accessKeySource: source }),
  });
}

/** The data dir's generated S3 key pair, made the first time (20-character id, 40-character secret). */
async function loadOrCreateGeneratedKey(dataDir: string): Promise<AccessKey> {
  const file = generatedKeyPath(dataDir);
  const { text } = await loadOrCreateSecretFile(file, () =>
    JSON.stringify({
      accessKeyId: `DRK${crypto.randomBytes(16).toString('hex').toUpperCase().slice(0, 17)}`,
      secretAccessKey: crypto.randomBytes(30).toString('base64url'),
    }),
  );
  try {
    const { accessKeyId, secretAccessKey } = JSON.parse(text) as Partial<AccessKey>;
    if (typeof accessKeyId === 'string' && typeof secretAccessKey === 'string') {
      return { accessKeyId, secretAccessKey };
    }
  } catch {
    // Reported below.
  }
  throw new ConfigError([`${file}: not a key pair Darkroom wrote; delete it to make a new one`]);
}
