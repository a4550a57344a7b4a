import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { type DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '@app/config';
import { redisConnection } from './connection.js';

/** Injection token of the BullMQ `Queue` named by USAGE_QUEUE. */
export const USAGE_QUEUE = Symbol('USAGE_QUEUE');

@Module({})
export class QueueModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: QueueModule,
      imports: [
        BullModule.forRoot({ connection: redisConnection(config.REDIS_URL), prefix: config.QUEUE_PREFIX }),
        BullModule.registerQueue({ name: config.USAGE_QUEUE }),
      ],
      providers: [{ provide: USAGE_QUEUE, useExisting: getQueueToken(config.USAGE_QUEUE) }],
      exports: [USAGE_QUEUE, BullModule],
    };
  }
}
