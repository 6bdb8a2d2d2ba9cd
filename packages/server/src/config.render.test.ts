import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

// Issue 18.5: what bounds first renders and sizes the image-work slots.
describe('render and thread-pool settings', () => {
  it('default to the cores, a line of 32 and libuv’s pool of 4; take what is set', () => {
    const d = loadConfig({});
    expect([d.delivery.renderConcurrency, d.delivery.renderQueue, d.threadPoolSize]).toEqual([
      os.availableParallelism(),
      32,
      4,
    ]);
    const set = loadConfig({
      DARKROOM_RENDER_CONCURRENCY: '3',
      DARKROOM_RENDER_QUEUE: '0',
      UV_THREADPOOL_SIZE: '12',
    });
    expect([set.delivery.renderConcurrency, set.delivery.renderQueue, set.threadPoolSize]).toEqual([
      3, 0, 12,
    ]);
  });

  it('refuses values outside their range, naming the variable', () => {
    for (const [name, value] of [
      ['DARKROOM_RENDER_CONCURRENCY', '0'],
      ['DARKROOM_RENDER_QUEUE', '-1'],
      ['UV_THREADPOOL_SIZE', 'lots'],
      ['UV_THREADPOOL_SIZE', '1025'],
    ] as const) {
      expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value })).toThrow(name);
    }
  });
});
