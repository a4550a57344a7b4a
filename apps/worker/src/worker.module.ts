import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule, type Params } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig, pinoHttpTo } from '@app/config';
import { DbModule } from '@app/db';
import { UsageIngestService } from './ingest/usage-ingest.service.js';
import { WorkerRedis } from './ingest/worker-redis.js';
import { GrantExpiryProcessor } from './processors/grant-expiry.processor.js';
import { InvoiceScheduler } from './processors/invoice.scheduler.js';
import { PartitionUpkeepProcessor } from './processors/partition-upkeep.processor.js';
import { UsageProcessor } from './processors/usage.processor.js';
import { SchemaGate } from './schema/schema-gate.js';
import { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';

/** The worker's pino settings, for LoggerModule and for the logger Nest starts with. */
export const workerLogging = async (config: AppConfig): Promise<Params> => ({ pinoHttp: await pinoHttpTo({ name: 'worker', level: config.LOG_LEVEL }) });

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        LoggerModule.forRootAsync({ useFactory: () => workerLogging(config) }),
        DbModule.forRoot(config, { poolSize: config.WORKER_FLUSH_LANES + 3, applicationName: 'billing-worker' }),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }, SchemaGate, WorkerRedis, UsageIngestService, UsageProcessor, InvoiceScheduler, GrantExpiryProcessor, PartitionUpkeepProcessor, WebhookDispatcher],
    };
  }
}
