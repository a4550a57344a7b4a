import { BullModule, getQueueToken } from '@nestjs/bullmq';
import { type DynamicModule, Inject, Injectable, Logger, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { Queue } from 'bullmq';
import type { AppConfig } from '@app/config';
import { redisConnection } from './connection.js';

/** Injection token of the BullMQ `Queue` named by USAGE_QUEUE. */
export const USAGE_QUEUE = Symbol('USAGE_QUEUE');
/** Injection token of a plain ioredis client on REDIS_URL (health, metrics). */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

@Injectable()
class RedisClientCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

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
      providers: [
        { provide: USAGE_QUEUE, useExisting: getQueueToken(config.USAGE_QUEUE) },
        {
          provide: REDIS_CLIENT,
          useFactory: () => {
            // Commands issued while connecting wait for the connection; while Redis is down they fail
            // after one reconnect attempt, and callers (health, metrics) bound them with a timeout.
            const redis = new Redis({ ...(redisConnection(config.REDIS_URL) as object), maxRetriesPerRequest: 1 });
            redis.on('error', () => undefined);
            return redis;
          },
        },
        RedisClientCloser,
        QueueErrorLogger,
      ],
      exports: [USAGE_QUEUE, REDIS_CLIENT, BullModule],
    };
  }
}
