/**
 * @module Conditional writes (S3, 2024): `If-None-Match: *` (create only) and `If-Match: <etag>` (replace
 * only that object) on PutObject, CopyObject and CompleteMultipartUpload, as the S3 User Guide's
 * "How to prevent object overwrites with conditional writes" and the API reference describe them:
 * - the condition fails: 412 PreconditionFailed; `If-Match` on a key with no object: 404 NoSuchKey;
 * - it holds, but the key was written or deleted after the request began (a Complete: after the upload
 *   was created): 409 ConditionalRequestConflict ("If a conflicting operation occurs during the upload S3
 *   returns a 409 ConditionalRequestConflict"). Of two conditional writes racing for one key, the first to
 *   finish succeeds and the other gets 412 (the User Guide's "Conditional write behavior");
 * - S3 accepts only `*` for If-None-Match and only an ETag for If-Match; other values are 501
 *   NotImplemented naming the header (what Amazon S3 answers, as recorded by LocalStack's AWS-validated
 *   snapshots of these calls).
 */
import { header, type S3Request } from '../context.ts';
import { S3Error } from '../errors.ts';
import type { ObjectRecord, WriteGuard } from '../store/object-store.ts';

/** The write preconditions of a request. */
export interface WriteConditions {
  /** Unquoted ETags (If-Match may list several). */
  ifMatch?: string[];
  ifNoneMatch?: true;
}

function refuse(name: string): S3Error {
  return new S3Error('NotImplemented', undefined, {
    Header: name,
    additionalMessage: `We don't accept the provided value of ${name} header for this API`,
  });
}

const unquote = (etag: string) => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

/** Reads and validates If-Match / If-None-Match of a write; undefined when the write is unconditional. */
export function writeConditionsOf(r: S3Request): WriteConditions | undefined {
  const ifMatch = header(r, 'if-match');
  const ifNoneMatch = header(r, 'if-none-match');
  if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
  if (ifNoneMatch !== undefined && ifNoneMatch.trim() !== '*') throw refuse('If-None-Match');
  const tags = ifMatch?.split(',').map(unquote);
  if (tags?.includes('*')) throw refuse('If-Match');
  return { ...(tags ? { ifMatch: tags } : {}), ...(ifNoneMatch !== undefined ? { ifNoneMatch: true } : {}) };
}

/** Throws what S3 answers when `conditions` do not hold for `current` (the key's object, if any). */
export function checkWriteConditions(
  conditions: WriteConditions,
  current: ObjectRecord | undefined,
  key: string,
): void {
  if (conditions.ifMatch) {
    if (!current) throw new S3Error('NoSuchKey', undefined, { Key: key });
    if (!conditions.ifMatch.includes(current.etag))
      throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-Match' });
  }
  if (conditions.ifNoneMatch && current)
    throw new S3Error('PreconditionFailed', undefined, { Condition: 'If-None-Match' });
}

/**
 * The guard a conditional write commits under: the conditions must hold for the object the key holds at
 * commit, and that object must still be the one that was there when the write began (`versionAtStart`,
 * its blob or '' for none; undefined when unknown, which skips that check).
 */
export function conditionalGuard(
  conditions: WriteConditions | undefined,
  key: string,
  versionAtStart: string | undefined,
): WriteGuard | undefined {
  if (!conditions) return undefined;
  return (current) => {
    checkWriteConditions(conditions, current, key);
    if (versionAtStart !== undefined && (current?.blob ?? '') !== versionAtStart) {
      throw new S3Error('ConditionalRequestConflict', undefined, {
        Condition: conditions.ifMatch ? 'If-Match' : 'If-None-Match',
        Key: key,
      });
    }
  };
}

/** Checks a write's conditions before its body is read (S3 refuses early) and returns its commit guard. */
export function guardWrite(r: S3Request, key: string): WriteGuard | undefined {
  const conditions = writeConditionsOf(r);
  if (!conditions) return undefined;
  const current = r.store.getObject(r.bucket!, key);
  checkWriteConditions(conditions, current, key);
  return conditionalGuard(conditions, key, current?.blob ?? '');
}
