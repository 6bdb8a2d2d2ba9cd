import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type ChecksumAlgorithm,
  checksumHeader,
  createChunkedDecoder,
  createHasher,
  findChecksum,
  type Hasher,
  isChunkedPayload,
  parseChecksumAlgorithm,
} from '@darkroom/aws-auth';
import { continueBody, header, headerOrQuery, type S3Request } from './context.ts';
import { asS3Error, S3Error } from './errors.ts';
import type { ReceivedFile } from './store/object-store.ts';

/**
 * Feeds the request body into a stream. Unlike pipeline(), a failure downstream leaves the request
 * (and so its socket) intact, so the server can still answer with S3's XML error.
 */
export function bodyInto(r: S3Request, target: Writable): void {
  const req = r.req;
  const fail = () => {
    if (!req.complete) target.destroy(new S3Error('IncompleteBody'));
  };
  req.once('aborted', fail);
  req.once('close', fail);
  req.pipe(target);
  target.once('error', () => req.unpipe(target));
}

/** A received body with the checksum S3 will store for it, if the client asked for one. */
export interface ReceivedBody extends ReceivedFile {
  checksum: { algorithm: ChecksumAlgorithm; value: string } | undefined;
}

/** Hashes and counts everything that passes through, without copying it; stops past maxBytes. */
export class HashingStream extends Transform {
  bytes = 0;
  constructor(
    private readonly hashers: readonly Hasher[],
    private readonly maxBytes: number,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.maxBytes) {
      done(
        new S3Error('EntityTooLarge', undefined, { ProposedSize: this.bytes, MaxSizeAllowed: this.maxBytes }),
      );
      return;
    }
    for (const h of this.hashers) h.update(chunk);
    done(null, chunk);
  }
}

/** ENOSPC or EDQUOT: the data dir's disk or quota is full. */
export function isOutOfSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

function parseLength(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`);
  return Number(value);
}

/**
 * Streams a request body to a temp file and verifies it as S3 does (length, x-amz-content-sha256,
 * Content-MD5, x-amz-checksum-* from headers, query or aws-chunked trailer). Nothing is committed here:
 * on any failure the temp file is removed and an S3Error explains why.
 */
export async function receiveBody(
  r: S3Request,
  opts: { maxBytes: number; checksumAlgorithm?: ChecksumAlgorithm | undefined; tempPath: string },
): Promise<ReceivedBody> {
  const auth = r.auth!;
  const chunkedMode = isChunkedPayload(auth.payloadHash) ? auth.payloadHash : undefined;
  // An object body needs its length up front: Content-Length, or for aws-chunked bodies
  // x-amz-decoded-content-length ("required", SigV4 streaming docs), which may then come with
  // Transfer-Encoding: chunked. HTTP/1.1: no Content-Length and no Transfer-Encoding is an empty body.
  if (chunkedMode && header(r, 'x-amz-decoded-content-length') === undefined)
    throw new S3Error('MissingContentLength');
  if (!chunkedMode) refuseTransferEncoding(r);
  const contentLength = parseLength(header(r, 'content-length'), 'Content-Length') ?? 0;
  const decodedLength = chunkedMode
    ? parseLength(header(r, 'x-amz-decoded-content-length'), 'x-amz-decoded-content-length')
    : contentLength;
  if (decodedLength !== undefined && decodedLength > opts.maxBytes) {
    throw new S3Error('EntityTooLarge', undefined, {
      ProposedSize: decodedLength,
      MaxSizeAllowed: opts.maxBytes,
    });
  }

  const md5Header = header(r, 'content-md5');
  if (md5Header !== undefined && Buffer.from(md5Header, 'base64').length !== 16)
    throw new S3Error('InvalidDigest');
  const given = findChecksum((name) => headerOrQuery(r, name));
  const trailerName = header(r, 'x-amz-trailer')?.trim().toLowerCase();
  const trailerAlgorithm = trailerName?.startsWith('x-amz-checksum-')
    ? parseChecksumAlgorithm(trailerName.slice('x-amz-checksum-'.length))
    : undefined;
  const algorithm =
    given?.algorithm ??
    trailerAlgorithm ??
    parseChecksumAlgorithm(headerOrQuery(r, 'x-amz-sdk-checksum-algorithm')) ??
    opts.checksumAlgorithm;
  if (opts.checksumAlgorithm && algorithm !== opts.checksumAlgorithm) {
    throw new S3Error(
      'InvalidRequest',
      `Checksum Type mismatch occurred, expected checksum Type: ${opts.checksumAlgorithm.toLowerCase()}, actual checksum Type: ${algorithm?.toLowerCase()}`,
    );
  }

  const md5 = createHasher('MD5');
  const sha256 = /^[0-9a-f]{64}$/i.test(auth.payloadHash) ? createHasher('SHA256') : undefined;
  const checksumHasher = algorithm ? createHasher(algorithm) : undefined;
  const hashing = new HashingStream(
    [md5, ...(sha256 ? [sha256] : []), ...(checksumHasher ? [checksumHasher] : [])],
    opts.maxBytes,
  );
  const decoder = chunkedMode
    ? createChunkedDecoder({ mode: chunkedMode, signing: auth.signing, decodedLength })
    : undefined;

  continueBody(r);
  try {
    // flush: the bytes reach the disk before the rename that publishes them.
    const sink = fs.createWriteStream(opts.tempPath, { flush: true });
    const first = decoder ?? hashing;
    const stages = decoder ? pipeline(decoder, hashing, sink) : pipeline(hashing, sink);
    bodyInto(r, first);
    await stages.catch((err: unknown) => {
      const known = asS3Error(err);
      if (known) throw known;
      // A full disk is the server's problem, not a short body: say so, as S3-compatible servers do.
      if (isOutOfSpace(err)) throw new S3Error('InsufficientStorage', undefined, {}, { cause: err });
      throw new S3Error('IncompleteBody', undefined, {}, { cause: err });
    });
    if (decodedLength !== undefined && hashing.bytes !== decodedLength) throw new S3Error('IncompleteBody');

    if (sha256 && sha256.digest().toString('hex') !== auth.payloadHash.toLowerCase()) {
      throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
        ClientComputedContentSHA256: auth.payloadHash,
      });
    }
    const md5Digest = md5.digest();
    if (md5Header !== undefined && md5Digest.toString('base64') !== md5Header) throw new S3Error('BadDigest');
    let checksum: ReceivedBody['checksum'];
    if (algorithm && checksumHasher) {
      const computed = checksumHasher.digest().toString('base64');
      const trailers = decoder ? await decoder.trailers : {};
      const expected = given?.value ?? (trailerName ? trailers[trailerName] : undefined);
      if (trailerName && !given && expected === undefined) {
        throw new S3Error('InvalidRequest', `The trailer ${trailerName} was declared but not sent.`);
      }
      if (expected !== undefined && expected !== computed) {
        throw new S3Error(
          'BadDigest',
          `The ${algorithm} you specified did not match the calculated checksum.`,
        );
      }
      checksum = { algorithm, value: computed };
    }
    return { tempPath: opts.tempPath, size: hashing.bytes, md5: md5Digest, checksum };
  } catch (err) {
    await fsp.rm(opts.tempPath, { force: true });
    throw err;
  }
}

/** Headers that name an algorithm's value in a response, e.g. for HeadObject with checksum mode. */
export function checksumResponseHeaders(
  checksum: { algorithm: ChecksumAlgorithm; value: string; type?: string } | undefined,
): Record<string, string> {
  if (!checksum) return {};
  return {
    [checksumHeader(checksum.algorithm)]: checksum.value,
    ...(checksum.type ? { 'x-amz-checksum-type': checksum.type } : {}),
  };
}

/**
 * S3 wants the length of a body up front ("Content-Length … is required for PUTs and operations that
 * load XML", Common Request Headers) and answers a plain `Transfer-Encoding: chunked` body with 501
 * NotImplemented naming the header; only aws-chunked framing with x-amz-decoded-content-length may come
 * chunked.
 */
function refuseTransferEncoding(r: S3Request): void {
  if (header(r, 'transfer-encoding') !== undefined)
    throw new S3Error('NotImplemented', undefined, { Header: 'Transfer-Encoding' });
}

/**
 * Reads a small body (an XML document) whole, with the same integrity checks as object bodies:
 * signed payload hash, aws-chunked framing, Content-MD5 and x-amz-checksum-*.
 */
export async function receiveSmallBody(r: S3Request, limit = 1024 * 1024): Promise<Buffer> {
  const auth = r.auth!;
  const mode = isChunkedPayload(auth.payloadHash) ? auth.payloadHash : undefined;
  if (!mode) refuseTransferEncoding(r);
  continueBody(r);
  const declared = Number(header(r, 'content-length') ?? 0);
  if (declared > limit * 2)
    throw new S3Error('MaxMessageLengthExceeded', `Your request was too big (limit ${limit} bytes).`);
  const chunks: Buffer[] = [];
  let source: AsyncIterable<Buffer> = r.req;
  if (mode) {
    const decoder = createChunkedDecoder({ mode, signing: auth.signing });
    bodyInto(r, decoder);
    source = decoder;
  }
  let total = 0;
  for await (const chunk of source) {
    total += chunk.length;
    if (total > limit)
      throw new S3Error('MaxMessageLengthExceeded', `Your request was too big (limit ${limit} bytes).`);
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const digest = (alg: Parameters<typeof createHasher>[0]) => {
    const h = createHasher(alg);
    h.update(body);
    return h.digest();
  };
  if (
    /^[0-9a-f]{64}$/i.test(auth.payloadHash) &&
    digest('SHA256').toString('hex') !== auth.payloadHash.toLowerCase()
  ) {
    throw new S3Error('XAmzContentSHA256Mismatch');
  }
  const md5Header = header(r, 'content-md5');
  if (md5Header !== undefined && digest('MD5').toString('base64') !== md5Header)
    throw new S3Error('BadDigest');
  const given = findChecksum((name) => header(r, name));
  if (given && digest(given.algorithm).toString('base64') !== given.value) {
    throw new S3Error(
      'BadDigest',
      `The ${given.algorithm} you specified did not match the calculated checksum.`,
    );
  }
  return body;
}
