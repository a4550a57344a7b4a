import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { DbModule } from '@app/db';
import { UsageIngestService } from './ingest/usage-ingest.service.js';
import { WorkerRedis } from './ingest/worker-redis.js';
import { InvoiceScheduler } from './processors/invoice.scheduler.js';
import { UsageProcessor } from './processors/usage.processor.js';
import { SchemaGate } from './schema/schema-gate.js';

/** The worker's pino settings, for LoggerModule and for the logger Nest starts with. */
export const workerLogging = (config: AppConfig): Params => ({ pinoHttp: { level: config.LOG_LEVEL } });

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        LoggerModule.forRoot(workerLogging(config)),
        DbModule.forRoot(config, { poolSize: 4, applicationName: 'billing-worker' }),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }, SchemaGate, WorkerRedis, UsageIngestService, UsageProcessor, InvoiceScheduler],
    };
  }
}
