/**
 * Why a signed request or its payload was refused, in the words AWS uses for it. The names are the error
 * codes AWS's services share for SigV4 and payload checks; each server renders them in its own protocol
 * (S3 XML, SQS JSON), so nothing here knows about a wire format or an HTTP status.
 */
export type AwsRequestErrorCode =
  | 'AccessDenied'
  | 'AuthorizationHeaderMalformed'
  | 'AuthorizationQueryParametersError'
  | 'IncompleteBody'
  | 'InvalidAccessKeyId'
  | 'InvalidArgument'
  | 'InvalidRequest'
  | 'NotImplemented'
  | 'RequestTimeTooSkewed'
  | 'SignatureDoesNotMatch';

/** A refused request: a stable code, an optional detail a client can act on, and the facts behind it. */
export class AwsRequestError extends Error {
  constructor(
    readonly code: AwsRequestErrorCode,
    /** What exactly was wrong; undefined when the code says it all (the server then uses its default). */
    readonly detail?: string,
    /** Named values about the failure (e.g. `StringToSign`, `ServerTime`) a server may show the client. */
    readonly fields: Readonly<Record<string, string | number>> = {},
  ) {
    super(detail ?? code);
    this.name = 'AwsRequestError';
  }
}
