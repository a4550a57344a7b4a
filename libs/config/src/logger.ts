import type { LoggerService } from '@nestjs/common';
import { Logger, PinoLogger, type Params } from 'nestjs-pino';

/**
 * A Nest logger writing through pino, for NestFactory's `logger` option: the app logs as JSON from
 * its first line instead of buffering until it has started (what it logs while it waits for
 * Postgres or for migrations must show while it waits). Give it the same params as the app's
 * LoggerModule: nestjs-pino keeps one root logger per process, made by whoever asks first.
 */
export function pinoNestLogger(params: Params): LoggerService {
  return new Logger(new PinoLogger(params), params);
}
