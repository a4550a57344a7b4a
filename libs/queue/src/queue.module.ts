import { type DynamicModule, Inject, Injectable, Module, type OnApplicationShutdown } from '@nestjs/common';
import type { AppConfig } from '@app/config';
import { createRedisClient, type RedisClient } from './connection.js';
import { UsageProducer } from './usage-producer.js';

/** Injection token of a plain client on REDIS_URL (health, metrics): a RedisClient. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

@Injectable()
class RedisClientCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly redis: RedisClient) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** The API's side of Redis: the usage producer, and a client for health and metrics. */
@Module({})
export class QueueModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: QueueModule,
      providers: [
        { provide: UsageProducer, useFactory: () => new UsageProducer(config.REDIS_URL, config.USAGE_QUEUE, config.QUEUE_PREFIX) },
        {
          provide: REDIS_CLIENT,
          useFactory: () => {
            // Commands issued while connecting wait for the connection; while Redis is down they fail
            // after one reconnect attempt, and callers (health, metrics) bound them with a timeout.
            const redis = createRedisClient(config.REDIS_URL, { redis: { maxRetriesPerRequest: 1 } });
            redis.on('error', () => undefined);
            return redis;
          },
        },
        RedisClientCloser,
      ],
      exports: [UsageProducer, REDIS_CLIENT],
    };
  }
}
