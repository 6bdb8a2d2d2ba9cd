import { createHash, createHmac, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { AwsRequestError } from './errors.ts';
import { sameSignature, type VerifiedAuth } from './sigv4.ts';

export type ChunkedMode =
  | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
  | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
  | 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';

export interface ChunkedDecoderOptions {
  mode: ChunkedMode;
  signing: VerifiedAuth['signing'];
  /** x-amz-decoded-content-length, when the client sent it: the decoded total must equal it. */
  decodedLength?: number | undefined;
  /** Largest chunk accepted. Defaults to 16 MiB for signed modes (a chunk is held until verified), 5 GiB unsigned. */
  maxChunkSize?: number | undefined;
}

/** aws-chunked bytes in, verified object bytes out; `trailers` settles once the whole body has been read. */
export type ChunkedDecoder = Transform & { readonly trailers: Promise<Record<string, string>> };

const MODES: ReadonlySet<string> = new Set<ChunkedMode>([
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
]);
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SIGNED_MAX_CHUNK = 16 * 1024 * 1024;
const UNSIGNED_MAX_CHUNK = 5 * 1024 * 1024 * 1024;
const MAX_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;
const MAX_TRAILERS = 32;
const CR = 0x0d;
const LF = 0x0a;
const SIGNED_HEADER = /^([0-9a-fA-F]{1,16});chunk-signature=([^;]*)$/;
const UNSIGNED_HEADER = /^([0-9a-fA-F]{1,16})$/;

/** True when x-amz-content-sha256 announces an aws-chunked body this decoder understands. */
export function isChunkedPayload(payloadHash: string): payloadHash is ChunkedMode {
  return MODES.has(payloadHash);
}

/** A Transform: aws-chunked bytes in, decoded object bytes out. `trailers` resolves after the final chunk. */
export function createChunkedDecoder(opts: ChunkedDecoderOptions): ChunkedDecoder {
  return new AwsChunkedDecoder(opts);
}

type State = 'header' | 'data' | 'data-end' | 'trailer' | 'done';

function invalid(message: string): AwsRequestError {
  return new AwsRequestError('InvalidRequest', message);
}

class AwsChunkedDecoder extends Transform {
  readonly trailers: Promise<Record<string, string>>;
  private resolveTrailers!: (value: Record<string, string>) => void;
  private rejectTrailers!: (reason: unknown) => void;
  private settled = false;

  private readonly signed: boolean;
  private readonly hasTrailer: boolean;
  private readonly maxChunkSize: number;
  private state: State = 'header';
  /** Pieces of the header or trailer line being read; lines are short, so this stays small. */
  private line: Buffer[] = [];
  private lineLength = 0;
  private remaining = 0;
  private finalChunk = false;
  private crlfSeen = 0;
  private decoded = 0;
  private previousSignature: string;
  private claimedSignature = '';
  private chunkHash: Hash | undefined;
  /** Signed modes hold one chunk's bytes until its signature checks out, so nothing unverified leaves. */
  private held: Buffer[] = [];
  private readonly trailerValues: Record<string, string> = Object.create(null);
  private trailerCount = 0;
  private trailerBytes = 0;
  private trailerSignature: string | undefined;

  constructor(private readonly opts: ChunkedDecoderOptions) {
    super();
    this.signed = opts.mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
    this.hasTrailer = opts.mode !== 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
    this.maxChunkSize = opts.maxChunkSize ?? (this.signed ? SIGNED_MAX_CHUNK : UNSIGNED_MAX_CHUNK);
    this.previousSignature = opts.signing.seedSignature;
    this.trailers = new Promise((resolve, reject) => {
      this.resolveTrailers = resolve;
      this.rejectTrailers = reject;
    });
    // Callers that fail before awaiting trailers must not turn the rejection into an unhandled one.
    this.trailers.catch(() => {});
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.consume(chunk);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      // Some encoders end the body right after the last trailer line, without the closing blank line.
      if (this.state === 'trailer' && this.lineLength === 0) this.endTrailers();
      if (this.state !== 'done') throw new AwsRequestError('IncompleteBody');
      // Resolved only at the end of input, so trailers never resolve for a body that then fails.
      this.settled = true;
      this.resolveTrailers({ ...this.trailerValues });
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.settled) {
      this.settled = true;
      this.rejectTrailers(error ?? new AwsRequestError('IncompleteBody'));
    }
    this.held = [];
    callback(error);
  }

  private consume(buf: Buffer): void {
    let offset = 0;
    while (offset < buf.length) {
      switch (this.state) {
        case 'header':
        case 'trailer': {
          const lf = buf.indexOf(LF, offset);
          const end = lf < 0 ? buf.length : lf + 1;
          this.appendLine(buf.subarray(offset, end));
          offset = end;
          if (lf >= 0) this.handleLine(this.takeLine());
          break;
        }
        case 'data': {
          const n = Math.min(this.remaining, buf.length - offset);
          this.takeData(buf.subarray(offset, offset + n));
          offset += n;
          break;
        }
        case 'data-end': {
          if (buf[offset] !== (this.crlfSeen === 0 ? CR : LF))
            throw invalid('Chunk data must be followed by CRLF.');
          offset++;
          if (++this.crlfSeen < 2) break;
          if (!this.finalChunk) this.state = 'header';
          else {
            this.state = 'done';
            this.finish();
          }
          break;
        }
        case 'done':
          throw invalid('Unexpected data after the final aws-chunked chunk.');
      }
    }
  }

  private appendLine(piece: Buffer): void {
    this.lineLength += piece.length;
    const limit = this.state === 'trailer' ? MAX_TRAILER_BYTES - this.trailerBytes : MAX_LINE;
    if (this.lineLength > limit) throw invalid('aws-chunked chunk header or trailer is too long.');
    this.line.push(piece);
  }

  private takeLine(): string {
    const bytes = this.line.length === 1 ? this.line[0]! : Buffer.concat(this.line, this.lineLength);
    this.line = [];
    this.trailerBytes += this.state === 'trailer' ? this.lineLength : 0;
    this.lineLength = 0;
    if (bytes.length < 2 || bytes[bytes.length - 2] !== CR)
      throw invalid('aws-chunked lines must end with CRLF.');
    return bytes.toString('latin1', 0, bytes.length - 2);
  }

  private handleLine(line: string): void {
    if (this.state === 'header') this.startChunk(line);
    else if (line === '') this.endTrailers();
    else this.addTrailer(line);
  }

  private startChunk(line: string): void {
    const match = (this.signed ? SIGNED_HEADER : UNSIGNED_HEADER).exec(line);
    if (!match) throw invalid('Invalid aws-chunked chunk header.');
    const size = Number.parseInt(match[1]!, 16);
    if (size > this.maxChunkSize) throw invalid(`aws-chunked chunk size exceeds ${this.maxChunkSize} bytes.`);
    this.claimedSignature = match[2] ?? '';
    this.remaining = size;
    this.finalChunk = size === 0;
    if (this.signed) this.chunkHash = size > 0 ? createHash('sha256') : undefined;
    if (size > 0) {
      this.state = 'data';
      return;
    }
    // The final chunk carries no data: check its signature now, then the trailer section (if any) follows.
    if (this.signed) this.verifyChunk(EMPTY_SHA256);
    if (this.hasTrailer) this.state = 'trailer';
    else {
      this.state = 'data-end';
      this.crlfSeen = 0;
    }
  }

  private takeData(piece: Buffer): void {
    this.remaining -= piece.length;
    this.decoded += piece.length;
    if (this.opts.decodedLength !== undefined && this.decoded > this.opts.decodedLength) {
      throw new AwsRequestError(
        'IncompleteBody',
        'The decoded body is longer than x-amz-decoded-content-length.',
      );
    }
    if (this.chunkHash) {
      this.chunkHash.update(piece);
      this.held.push(piece);
    } else {
      this.push(piece);
    }
    if (this.remaining > 0) return;
    if (this.chunkHash) {
      this.verifyChunk(this.chunkHash.digest('hex'));
      this.chunkHash = undefined;
      for (const held of this.held) this.push(held);
      this.held = [];
    }
    this.state = 'data-end';
    this.crlfSeen = 0;
  }

  private verifyChunk(dataHash: string): void {
    const { longDate, scope } = this.opts.signing;
    const expected = this.hmac(
      `AWS4-HMAC-SHA256-PAYLOAD\n${longDate}\n${scope}\n${this.previousSignature}\n${EMPTY_SHA256}\n${dataHash}`,
    );
    if (!sameSignature(expected, this.claimedSignature)) {
      throw new AwsRequestError('SignatureDoesNotMatch', undefined, {
        SignatureProvided: this.claimedSignature,
      });
    }
    this.previousSignature = expected;
  }

  private addTrailer(line: string): void {
    if (this.trailerSignature !== undefined)
      throw invalid('x-amz-trailer-signature must be the last trailer.');
    const colon = line.indexOf(':');
    if (colon <= 0) throw invalid('Invalid aws-chunked trailer.');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') {
      this.trailerSignature = value;
      return;
    }
    if (Object.hasOwn(this.trailerValues, name)) throw invalid(`Duplicate trailer ${name}.`);
    if (++this.trailerCount > MAX_TRAILERS) throw invalid('Too many trailers.');
    this.trailerValues[name] = value;
  }

  private endTrailers(): void {
    if (this.signed) {
      if (this.trailerSignature === undefined) {
        throw new AwsRequestError(
          'SignatureDoesNotMatch',
          'The trailer signature (x-amz-trailer-signature) is missing.',
        );
      }
      const canonical = Object.keys(this.trailerValues)
        .sort()
        .map((name) => `${name}:${this.trailerValues[name]}\n`)
        .join('');
      const { longDate, scope } = this.opts.signing;
      const hashed = createHash('sha256').update(canonical, 'latin1').digest('hex');
      const expected = this.hmac(
        `AWS4-HMAC-SHA256-TRAILER\n${longDate}\n${scope}\n${this.previousSignature}\n${hashed}`,
      );
      if (!sameSignature(expected, this.trailerSignature)) {
        throw new AwsRequestError('SignatureDoesNotMatch', undefined, {
          SignatureProvided: this.trailerSignature,
        });
      }
    }
    this.state = 'done';
    this.finish();
  }

  private finish(): void {
    if (this.opts.decodedLength !== undefined && this.decoded !== this.opts.decodedLength) {
      throw new AwsRequestError('IncompleteBody');
    }
  }

  private hmac(text: string): string {
    return createHmac('sha256', this.opts.signing.key).update(text, 'utf8').digest('hex');
  }
}
