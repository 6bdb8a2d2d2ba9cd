import pino, { type Logger } from 'pino';
import type { Config } from './config.ts';

/** The process logger: JSON lines on stdout, one `role` field per process role. */
export function createLogger(config: Pick<Config, 'logLevel'>, role: string): Logger {
  return pino({ level: config.logLevel, base: { role }, timestamp: pino.stdTimeFunctions.isoTime });
}
