import crypto from 'node:crypto';
import path from 'node:path';
import type { Logger } from 'pino';
import type { CloudFrontKeys, Config } from '../config.ts';
import { loadOrCreateSecretFile } from '../secrets/key-file.ts';

/** Key pair id of the development key pair (CloudFront never sees it). */
export const DEV_KEY_PAIR_ID = 'darkroom-dev';

/** Where the development signing key lives inside the data dir. */
export function devKeyPath(dataDir: string): string {
  return path.join(dataDir, 'keys', 'cloudfront-dev.pem');
}

/**
 * Loads the development key pair for private-image URLs, creating an RSA-2048 key (mode 0600) the
 * first time. Used only when no DARKROOM_CLOUDFRONT_* key pair is configured, so signed URLs work out
 * of the box and survive restarts. Several processes sharing the data dir end up with the same key.
 */
export async function loadOrCreateDevKeys(dataDir: string): Promise<CloudFrontKeys & { created: boolean }> {
  const file = devKeyPath(dataDir);
  const { text: pem, created } = await loadOrCreateSecretFile(file, async () => {
    const { privateKey } = await new Promise<crypto.KeyPairKeyObjectResult>((resolve, reject) =>
      crypto.generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) =>
        err ? reject(err) : resolve({ publicKey, privateKey }),
      ),
    );
    return privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  });
  let key: crypto.KeyObject;
  try {
    key = crypto.createPrivateKey(pem);
  } catch (err) {
    throw new Error(
      `${file} is not a PEM private key (${(err as Error).message}); delete it to make a new one`,
    );
  }
  if (key.asymmetricKeyType !== 'rsa')
    throw new Error(`${file} is not an RSA key; delete it to make a new one`);
  return {
    keyPairId: DEV_KEY_PAIR_ID,
    privateKeyPem: pem,
    publicKeyPem: crypto.createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
    created,
  };
}

/**
 * The key pair the API signs private-image URLs with: the configured DARKROOM_CLOUDFRONT_* one, or
 * (development) the data dir's key, with one warning at start-up so nobody ships it by accident.
 */
export async function resolveSigningKeys(config: Config, log: Logger): Promise<CloudFrontKeys> {
  const configured = config.delivery.cloudfront;
  if (configured) {
    if (configured.privateKeyPem === undefined) {
      log.warn(
        'DARKROOM_CLOUDFRONT_PRIVATE_KEY is not set: private images are verified but their URLs are returned unsigned',
      );
    }
    return configured;
  }
  const dev = await loadOrCreateDevKeys(config.dataDir);
  log.warn(
    { keyFile: devKeyPath(config.dataDir), keyPairId: dev.keyPairId, created: dev.created },
    'private-image URLs are signed with a development key pair; set DARKROOM_CLOUDFRONT_KEY_PAIR_ID and DARKROOM_CLOUDFRONT_PRIVATE_KEY (the key of a CloudFront key group) in production',
  );
  return dev;
}
