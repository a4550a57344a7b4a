import { type DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig, pinoHttpTo } from '@app/config';
import { DbModule } from '@app/db';
import { UsageIngestService } from './ingest/usage-ingest.service.js';
import { WorkerRedis } from './ingest/worker-redis.js';
import { GrantExpiryProcessor } from './processors/grant-expiry.processor.js';
import { InvoiceScheduler } from './processors/invoice.scheduler.js';
import { UsageProcessor } from './processors/usage.processor.js';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        LoggerModule.forRootAsync({
          useFactory: async () => ({ pinoHttp: await pinoHttpTo({ name: 'worker', level: config.LOG_LEVEL }) }),
        }),
        DbModule.forRoot(config, { poolSize: 4, applicationName: 'billing-worker' }),
      ],
      providers: [{ provide: APP_CONFIG, useValue: config }, WorkerRedis, UsageIngestService, UsageProcessor, InvoiceScheduler, GrantExpiryProcessor],
    };
  }
}
