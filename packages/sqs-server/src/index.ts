export { SQS_ERRORS, SqsError, type SqsErrorCode } from './errors.ts';
export { type MessageAttributes, type MessageAttributeValue, md5OfAttributes, md5OfBody } from './md5.ts';
export {
  type CreateSqsServerOptions,
  createSqsServer,
  type EmbeddedSqsServer,
  SQS_REQUEST_TIMEOUT_MS,
} from './server.ts';
export {
  type QueueCounts,
  type QueueRecord,
  queueNameFromUrl,
  type ReceivedMessage,
  type ReceiveOptions,
  type SendMessageInput,
  type SendResult,
  SqsStore,
} from './store/queue-store.ts';
export { ACCOUNT_ID, MAX_MESSAGE_BYTES, queueArn } from './validate.ts';
