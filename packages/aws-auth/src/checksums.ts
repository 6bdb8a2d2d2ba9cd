import { createHash, type Hash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Crc32c } from '@aws-crypto/crc32c';
import { AwsRequestError } from './errors.ts';

/** The additional checksum algorithms S3 accepts on writes (CRC64NVME is not supported here yet). */
export const CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

/** Digest lengths in bytes, to refuse malformed checksum values before any body is read. */
const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { CRC32: 4, CRC32C: 4, SHA1: 20, SHA256: 32 };

/** An incremental hash with one digest shape, whatever the algorithm. */
export interface Hasher {
  update(chunk: Uint8Array): void;
  digest(): Buffer;
}

function nodeHasher(name: 'md5' | 'sha1' | 'sha256'): Hasher {
  const h: Hash = createHash(name);
  return { update: (c) => void h.update(c), digest: () => h.digest() };
}

function crcDigest(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
}

/** Creates an incremental hasher for an S3 checksum algorithm or MD5. */
export function createHasher(algorithm: ChecksumAlgorithm | 'MD5'): Hasher {
  switch (algorithm) {
    case 'MD5':
      return nodeHasher('md5');
    case 'SHA1':
      return nodeHasher('sha1');
    case 'SHA256':
      return nodeHasher('sha256');
    case 'CRC32': {
      // zlib's crc32 is native; the pure-JS table version is several times slower on big objects.
      let value = 0;
      return {
        update: (c) => {
          value = crc32(c, value);
        },
        digest: () => crcDigest(value),
      };
    }
    case 'CRC32C': {
      const c32 = new Crc32c();
      return { update: (c) => void c32.update(c), digest: () => crcDigest(c32.digest()) };
    }
  }
}

/** Parses an algorithm name as S3 spells it in headers (case-insensitive); undefined when absent. */
export function parseChecksumAlgorithm(value: string | undefined): ChecksumAlgorithm | undefined {
  if (value === undefined || value === '') return undefined;
  const upper = value.toUpperCase();
  if ((CHECKSUM_ALGORITHMS as readonly string[]).includes(upper)) return upper as ChecksumAlgorithm;
  if (upper === 'CRC64NVME') throw crc64Refused();
  throw new AwsRequestError(
    'InvalidRequest',
    `Checksum algorithm ${value} is not supported; use one of ${CHECKSUM_ALGORITHMS.join(', ')}.`,
  );
}

/** The header that carries an algorithm's value, e.g. `x-amz-checksum-crc32`. */
export function checksumHeader(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm.toLowerCase()}`;
}

/** Checks that a base64 checksum value has the algorithm's digest length; throws InvalidRequest. */
export function assertChecksumShape(algorithm: ChecksumAlgorithm, value: string): void {
  const decoded = Buffer.from(value, 'base64');
  if (decoded.length !== DIGEST_BYTES[algorithm] || decoded.toString('base64') !== value) {
    throw new AwsRequestError('InvalidRequest', `Value for ${checksumHeader(algorithm)} header is invalid.`);
  }
}

/** Finds the checksum a client sent in headers (or query, for presigned URLs); at most one is allowed. */
export function findChecksum(
  lookup: (name: string) => string | undefined,
): { algorithm: ChecksumAlgorithm; value: string } | undefined {
  // S3 knows it; this server does not compute it, so it says so rather than storing an unchecked value.
  if (lookup('x-amz-checksum-crc64nvme') !== undefined) throw crc64Refused();
  const found = CHECKSUM_ALGORITHMS.flatMap((algorithm) => {
    const value = lookup(checksumHeader(algorithm));
    return value === undefined ? [] : [{ algorithm, value }];
  });
  if (found.length > 1) {
    throw new AwsRequestError(
      'InvalidRequest',
      'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
    );
  }
  const first = found[0];
  if (first) assertChecksumShape(first.algorithm, first.value);
  return first;
}

/** S3's composite multipart checksum: the checksum of the concatenated part checksums, suffixed `-N`. */
export function compositeChecksum(algorithm: ChecksumAlgorithm, partValues: readonly string[]): string {
  const h = createHasher(algorithm);
  for (const v of partValues) h.update(Buffer.from(v, 'base64'));
  return `${h.digest().toString('base64')}-${partValues.length}`;
}

function crc64Refused(): AwsRequestError {
  return new AwsRequestError(
    'NotImplemented',
    'CRC64NVME checksums are not supported by this server; use CRC32, CRC32C, SHA1 or SHA256.',
  );
}
