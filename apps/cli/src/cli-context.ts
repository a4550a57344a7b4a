import 'reflect-metadata';
import { ConsoleLogger, type DynamicModule, type INestApplicationContext, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfigOrExit } from '@app/config';
import { DbModule } from '@app/db';

@Module({})
class CliModule {
  static forRoot(config: ReturnType<typeof loadConfigOrExit>): DynamicModule {
    return { module: CliModule, imports: [DbModule.forRoot(config, { poolSize: 4, applicationName: 'billing-cli', connectFor: 30_000 })] };
  }
}

/** Errors and warnings (such as waiting for Postgres) on stderr: stdout is the command's output (--json). */
class StderrLogger extends ConsoleLogger {
  override warn(message: unknown, context?: string): void {
    this.printMessages([message], context ?? this.context, 'warn', 'stderr');
  }
}

/** The database services, without HTTP or queues, for the operator commands. */
export function cliContext(): Promise<INestApplicationContext> {
  return NestFactory.createApplicationContext(CliModule.forRoot(loadConfigOrExit([])), { logger: new StderrLogger({ logLevels: ['error', 'warn'] }) });
}

/** Parses the command line or exits 2 with the usage line. */
export function args<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage}`);
    process.exit(2);
  }
}

/** An instant from --from/--to, or exit 2. */
export function instant(value: string | undefined, name: string, usage: string): Date | undefined {
  if (value === undefined) return undefined;
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(date.getTime())) {
    console.error(`--${name} must be an ISO-8601 date or instant\n${usage}`);
    process.exit(2);
  }
  return date;
}
