import type { DestinationStream } from 'pino';

export type LogFormat = 'json' | 'pretty';

/**
 * JSON lines, one per event, unless a person is reading: outside production, with stdout a
 * terminal, logs are pino-pretty's readable lines. Anything that collects logs (a pipe, a file,
 * docker, a process manager) sees no terminal and so gets JSON, and so does NODE_ENV=production.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, stdout: { isTTY?: boolean } = process.stdout): LogFormat {
  return env.NODE_ENV !== 'production' && stdout.isTTY === true ? 'pretty' : 'json';
}

/**
 * Where pino writes: undefined (stdout, JSON lines) or a pino-pretty stream. pino-pretty is a
 * development dependency: production (NODE_ENV=production) never loads it, and an install
 * without development dependencies logs JSON even in a terminal.
 */
export async function logDestination(format: LogFormat = logFormat()): Promise<DestinationStream | undefined> {
  if (format === 'json') return undefined;
  const pretty = await import('pino-pretty').then(
    (module) => module.default,
    () => undefined,
  );
  return pretty?.({
    sync: true, // lines in order with anything else the process prints, and none lost at exit
    colorize: true,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname,context,req,res,responseTime',
    messageFormat: '{if context}[{context}] {end}{msg}',
  });
}

/** nestjs-pino's `pinoHttp` parameter for these pino options, written where logDestination() says. */
export async function pinoHttpTo<T extends object>(options: T): Promise<T | [T, DestinationStream]> {
  const destination = await logDestination();
  return destination ? [options, destination] : options;
}
