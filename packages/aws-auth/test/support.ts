/**
 * @module Credentials and region the embedded servers' tests sign with, shared so a test can drive the
 * S3 and the SQS server with one key pair, as Darkroom does.
 */

/** The key pair test servers accept first, and clients sign with. */
export const TEST_KEY = {
  accessKeyId: 'AKIDTESTDARKROOM',
  secretAccessKey: 'test-secret-key-for-darkroom-0123456789',
};
/** A second accepted pair, to prove servers take several. */
export const SECOND_KEY = {
  accessKeyId: 'AKIDSECONDDARKROOM',
  secretAccessKey: 'another-secret-key-abcdefghijklmnop',
};
/** The region test servers answer for. */
export const REGION = 'us-east-1';
