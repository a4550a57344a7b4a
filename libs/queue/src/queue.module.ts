import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { type DynamicModule, Inject, Injectable, Logger, Module, type OnModuleInit } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { AppConfig } from '@app/config';
import { redisConnection } from './connection.js';

/** Injection token of the BullMQ `Queue` named by USAGE_QUEUE. */
export const USAGE_QUEUE = Symbol('USAGE_QUEUE');

/**
 * Connection errors are logged (once per outage), never thrown: ioredis reconnects on its own,
 * and /health reports Redis as down meanwhile.
 */
@Injectable()
class QueueErrorLogger implements OnModuleInit {
  private readonly logger = new Logger('Queue');
  private down = false;

  constructor(@Inject(USAGE_QUEUE) private readonly queue: Queue) {}

  onModuleInit(): void {
    this.queue.on('error', (error: Error) => {
      if (this.down) return;
      this.down = true;
      this.logger.warn(`Redis unreachable (${error.message}); retrying`);
    });
    void this.queue.waitUntilReady().then(
      () => (this.down = false),
      () => undefined,
    );
  }
}

@Module({})
export class QueueModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: QueueModule,
      imports: [
        BullModule.forRoot({ connection: redisConnection(config.REDIS_URL), prefix: config.QUEUE_PREFIX }),
        BullModule.registerQueue({ name: config.USAGE_QUEUE }),
      ],
      providers: [{ provide: USAGE_QUEUE, useExisting: getQueueToken(config.USAGE_QUEUE) }, QueueErrorLogger],
      exports: [USAGE_QUEUE, BullModule],
    };
  }
}
