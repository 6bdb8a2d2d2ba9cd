/**
 * SQS's error catalogue for the JSON protocol. Each entry: HTTP status, the `__type` shape id, the legacy
 * query-protocol code sent in `x-amzn-query-error` (`Code;Sender|Receiver`), and a default message.
 *
 * The SDK (awsQueryCompatible) takes the error's name from the query code first, so `err.name` on the
 * client is that code, or the modelled shape whose `awsQueryError` trait carries it (QueueAlreadyExists
 * resolves to the modelled QueueNameExists class, exactly as against AWS). Statuses follow the SQS model.
 */
const SQS = 'com.amazonaws.sqs#';
const CORAL = 'com.amazon.coral.service#';

interface ErrorSpec {
  readonly status: number;
  readonly type: string;
  readonly queryCode: string;
  readonly fault: 'Sender' | 'Receiver';
  readonly message: string;
}

function sender(status: number, type: string, queryCode: string, message: string): ErrorSpec {
  return { status, type, queryCode, fault: 'Sender', message };
}

export const SQS_ERRORS = {
  QueueDoesNotExist: sender(
    400,
    `${SQS}QueueDoesNotExist`,
    'AWS.SimpleQueueService.NonExistentQueue',
    'The specified queue does not exist.',
  ),
  QueueAlreadyExists: sender(
    400,
    `${SQS}QueueNameExists`,
    'QueueAlreadyExists',
    'A queue already exists with the same name and a different value for attribute(s).',
  ),
  ReceiptHandleIsInvalid: sender(
    404,
    `${SQS}ReceiptHandleIsInvalid`,
    'ReceiptHandleIsInvalid',
    'The input receipt handle is invalid.',
  ),
  MessageNotInflight: sender(
    400,
    `${SQS}MessageNotInflight`,
    'AWS.SimpleQueueService.MessageNotInflight',
    'The message referred to is not in flight.',
  ),
  InvalidParameterValue: sender(
    400,
    `${SQS}InvalidParameterValue`,
    'InvalidParameterValue',
    'An invalid or out-of-range value was supplied for the input parameter.',
  ),
  MissingParameter: sender(
    400,
    `${SQS}MissingParameter`,
    'MissingParameter',
    'A required parameter is missing.',
  ),
  InvalidAttributeName: sender(
    400,
    `${SQS}InvalidAttributeName`,
    'InvalidAttributeName',
    'The specified attribute does not exist.',
  ),
  InvalidAttributeValue: sender(
    400,
    `${SQS}InvalidAttributeValue`,
    'InvalidAttributeValue',
    'A queue attribute value is invalid.',
  ),
  InvalidMessageContents: sender(
    400,
    `${SQS}InvalidMessageContents`,
    'InvalidMessageContents',
    'The message contains characters outside the allowed set.',
  ),
  InvalidAddress: sender(404, `${SQS}InvalidAddress`, 'InvalidAddress', 'The specified ID is invalid.'),
  BatchEntryIdsNotDistinct: sender(
    400,
    `${SQS}BatchEntryIdsNotDistinct`,
    'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
    'Two or more batch entries in the request have the same Id.',
  ),
  EmptyBatchRequest: sender(
    400,
    `${SQS}EmptyBatchRequest`,
    'AWS.SimpleQueueService.EmptyBatchRequest',
    'The batch request does not contain any entries.',
  ),
  TooManyEntriesInBatchRequest: sender(
    400,
    `${SQS}TooManyEntriesInBatchRequest`,
    'AWS.SimpleQueueService.TooManyEntriesInBatchRequest',
    'The batch request contains more entries than permissible.',
  ),
  InvalidBatchEntryId: sender(
    400,
    `${SQS}InvalidBatchEntryId`,
    'AWS.SimpleQueueService.InvalidBatchEntryId',
    'A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.',
  ),
  BatchRequestTooLong: sender(
    400,
    `${SQS}BatchRequestTooLong`,
    'AWS.SimpleQueueService.BatchRequestTooLong',
    'The length of all the messages put together is more than the limit.',
  ),
  UnsupportedOperation: sender(
    400,
    `${SQS}UnsupportedOperation`,
    'AWS.SimpleQueueService.UnsupportedOperation',
    'Unsupported operation.',
  ),
  InvalidAction: sender(
    400,
    `${CORAL}UnknownOperationException`,
    'InvalidAction',
    'The action or operation requested is invalid. Verify that the action is typed correctly.',
  ),
  SerializationException: sender(
    400,
    `${CORAL}SerializationException`,
    'MalformedInput',
    'The request body is not a valid JSON object.',
  ),
  RequestEntityTooLarge: sender(
    413,
    `${CORAL}RequestEntityTooLargeException`,
    'RequestEntityTooLarge',
    'Request body too large.',
  ),
  MissingAuthenticationToken: sender(
    403,
    `${CORAL}MissingAuthenticationTokenException`,
    'MissingAuthenticationToken',
    'Request is missing Authentication Token',
  ),
  InvalidClientTokenId: sender(
    403,
    `${CORAL}InvalidClientTokenId`,
    'InvalidClientTokenId',
    'The security token included in the request is invalid.',
  ),
  SignatureDoesNotMatch: sender(
    403,
    `${CORAL}SignatureDoesNotMatch`,
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  ),
  IncompleteSignature: sender(
    400,
    `${CORAL}IncompleteSignatureException`,
    'IncompleteSignature',
    'The request signature does not conform to AWS standards.',
  ),
  AccessDenied: sender(
    403,
    `${CORAL}AccessDeniedException`,
    'AccessDenied',
    'Access to the resource is denied.',
  ),
  InternalError: {
    status: 500,
    type: `${CORAL}InternalFailure`,
    queryCode: 'InternalError',
    fault: 'Receiver',
    message: 'We encountered an internal error. Please try again.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type SqsErrorCode = keyof typeof SQS_ERRORS;

/** An SQS protocol error; the server renders it as SQS's JSON error body plus `x-amzn-query-error`. */
export class SqsError extends Error {
  readonly status: number;
  constructor(
    readonly code: SqsErrorCode,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(message ?? SQS_ERRORS[code].message, options);
    this.name = 'SqsError';
    this.status = SQS_ERRORS[code].status;
  }

  /** The code a batch result entry carries (SQS uses the query-protocol code there). */
  get entryCode(): string {
    return SQS_ERRORS[this.code].queryCode;
  }

  get senderFault(): boolean {
    return SQS_ERRORS[this.code].fault === 'Sender';
  }
}

/** `Value X for parameter P is invalid. Reason: R` — SQS's wording for InvalidParameterValue. */
export function invalidParameter(name: string, value: unknown, reason: string): SqsError {
  return new SqsError(
    'InvalidParameterValue',
    `Value ${String(value)} for parameter ${name} is invalid. Reason: ${reason}`,
  );
}

export function missingParameter(name: string): SqsError {
  return new SqsError('MissingParameter', `The request must contain the parameter ${name}.`);
}
