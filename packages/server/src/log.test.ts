import { describe, expect, it } from 'vitest';
import { redactUrl } from './log.ts';

describe('redactUrl', () => {
  it.each([
    ['/v1/events?access_token=eyJ.a.b', '/v1/events?access_token=[REDACTED]'],
    ['/v1/hooks/s3?token=s3cret&x=1', '/v1/hooks/s3?token=[REDACTED]&x=1'],
    ['/img/i/w_1?sig=abc', '/img/i/w_1?sig=[REDACTED]'],
    [
      '/img/i/t?Expires=1&Signature=a~b&Key-Pair-Id=K',
      '/img/i/t?Expires=1&Signature=[REDACTED]&Key-Pair-Id=K',
    ],
    [
      '/k?X-Amz-Signature=ff&X-AMZ-SECURITY-TOKEN=t',
      '/k?X-Amz-Signature=[REDACTED]&X-AMZ-SECURITY-TOKEN=[REDACTED]',
    ],
    ['/k?%61ccess_token=x', '/k?%61ccess_token=[REDACTED]'],
    ['/k?token=a&token=b', '/k?token=[REDACTED]&token=[REDACTED]'],
    ['/k?token', '/k?token'],
    ['/plain/path', '/plain/path'],
    ['/k?%zz=1&sig=2', '/k?%zz=1&sig=[REDACTED]'],
  ])('%s → %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});
