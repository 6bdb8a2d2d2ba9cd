import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

// The variables that choose the engines: DARKROOM_QUEUE_URL (and its SQS alias), DARKROOM_QUEUE_NAME, DARKROOM_S3_PROVIDER.
describe('engine selection', () => {
  it('an amqp:// or amqps:// URL selects RabbitMQ; an http(s) URL or the old alias an SQS queue; nothing the embedded one', () => {
    expect(loadConfig({ DARKROOM_QUEUE_URL: 'amqp://u:p@rabbit:5672/photos' }).queue).toEqual({
      kind: 'amqp',
      url: 'amqp://u:p@rabbit:5672/photos',
      name: 'darkroom-uploads',
      deadLetterName: 'darkroom-uploads-dlq',
    });
    expect(loadConfig({ DARKROOM_QUEUE_URL: 'amqps://rabbit/x' }).queue.kind).toBe('amqp');
    const sqsUrl = 'https://sqs.eu-west-1.amazonaws.com/123456789012/uploads';
    for (const env of [{ DARKROOM_QUEUE_URL: sqsUrl }, { DARKROOM_SQS_QUEUE_URL: sqsUrl }]) {
      const config = loadConfig(env);
      expect(config.queue.kind).toBe('sqs');
      expect(config.sqs.queueUrl).toBe(sqsUrl);
    }
    expect(loadConfig({}).queue.kind).toBe('embedded');
    expect(loadConfig({ DARKROOM_QUEUE_NAME: 'photos' }).queue.deadLetterName).toBe('photos-dlq');
  });

  it('refuses an alias that disagrees, an AMQP URL in the SQS alias, other schemes and bad names, naming the variable', () => {
    const bad: Record<string, string>[] = [
      { DARKROOM_QUEUE_URL: 'amqp://a/x', DARKROOM_SQS_QUEUE_URL: 'http://b/q' },
      { DARKROOM_SQS_QUEUE_URL: 'amqp://a/x' },
      { DARKROOM_QUEUE_URL: 'redis://a/x' },
      { DARKROOM_QUEUE_NAME: 'no spaces' },
      { DARKROOM_S3_PROVIDER: 'swift' },
      { DARKROOM_S3_PROVIDER: 'ceph' },
      { DARKROOM_S3_PROVIDER: 'embedded', DARKROOM_S3_ENDPOINT: 'http://rgw:7480' },
    ];
    for (const env of bad) {
      expect(() => loadConfig(env), JSON.stringify(env)).toThrow(ConfigError);
      try {
        loadConfig(env);
      } catch (err) {
        expect((err as Error).message).toMatch(
          /DARKROOM_(QUEUE_URL|SQS_QUEUE_URL|QUEUE_NAME|S3_PROVIDER|S3_ENDPOINT)/,
        );
      }
    }
  });

  it('derives the S3 provider from the endpoint unless it is named', () => {
    expect(loadConfig({}).s3.provider).toBe('embedded');
    expect(loadConfig({ DARKROOM_S3_ENDPOINT: 'https://s3.eu-west-1.amazonaws.com' }).s3.provider).toBe(
      'aws',
    );
    expect(loadConfig({ DARKROOM_S3_ENDPOINT: 'http://rgw:7480' }).s3.provider).toBe('generic');
    expect(
      loadConfig({ DARKROOM_S3_ENDPOINT: 'http://rgw:7480', DARKROOM_S3_PROVIDER: 'ceph' }).s3.provider,
    ).toBe('ceph');
  });
});

describe('the sweep', () => {
  it('waits DARKROOM_NOTIFICATION_GRACE_SECONDS (60 by default) for a notification; refuses what is not 1 to 86400 seconds', () => {
    expect(loadConfig({}).worker.notificationGraceSeconds).toBe(60);
    expect(loadConfig({ DARKROOM_NOTIFICATION_GRACE_SECONDS: '2' }).worker.notificationGraceSeconds).toBe(2);
    for (const value of ['0', '-5', '1.5', 'soon', '86401']) {
      expect(() => loadConfig({ DARKROOM_NOTIFICATION_GRACE_SECONDS: value }), value).toThrow(
        /DARKROOM_NOTIFICATION_GRACE_SECONDS/,
      );
    }
  });
});
