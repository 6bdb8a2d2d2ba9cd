import { Sha256 } from '@aws-crypto/sha256-js';
import { HttpRequest } from '@smithy/protocol-http';
import { ALGORITHM_IDENTIFIER, getCanonicalHeaders, SignatureV4Base } from '@smithy/signature-v4';

/** The request parts SigV4 covers, as the server saw them. */
export interface CanonicalInput {
  method: string;
  rawPath: string;
  query: Record<string, string | string[]>;
  /** Values of exactly the headers the client listed in SignedHeaders. */
  headers: Record<string, string>;
  signedHeaders: readonly string[];
  payloadHash: string;
}

/**
 * Smithy's own canonicaliser, reached through the supported subclassing route so the server can never
 * drift from what the SDK signs. uriEscapePath is off because S3 signs the path exactly as sent.
 */
class ServerCanonicaliser extends SignatureV4Base {
  constructor() {
    // Credentials and region are unused: only the canonical-request and string-to-sign steps are called.
    super({
      service: 's3',
      region: 'us-east-1',
      credentials: { accessKeyId: '', secretAccessKey: '' },
      sha256: Sha256,
      uriEscapePath: false,
    });
  }

  canonicalRequest(input: CanonicalInput): string {
    const request = new HttpRequest({
      method: input.method,
      path: input.rawPath,
      query: input.query,
      headers: input.headers,
    });
    // signableHeaders lets headers smithy never signs itself (expect, user-agent, …) through when a client did.
    const canonical = getCanonicalHeaders(request, undefined, new Set(input.signedHeaders));
    return this.createCanonicalRequest(request, canonical, input.payloadHash);
  }

  stringToSign(longDate: string, scope: string, canonicalRequest: string): Promise<string> {
    return this.createStringToSign(longDate, scope, canonicalRequest, ALGORITHM_IDENTIFIER);
  }
}

const canonicaliser = new ServerCanonicaliser();

/** The SigV4 canonical request for what the server received. */
export function canonicalRequest(input: CanonicalInput): string {
  return canonicaliser.canonicalRequest(input);
}

/** The SigV4 string to sign for a canonical request. */
export function stringToSign(longDate: string, scope: string, canonical: string): Promise<string> {
  return canonicaliser.stringToSign(longDate, scope, canonical);
}
