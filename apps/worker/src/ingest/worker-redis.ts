import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { MetricsStore, redisConnection } from '@app/queue';

/**
 * The worker's own Redis connection (besides BullMQ's): the bulk taker's scripts, metrics, and at
 * start a loud warning unless Redis would refuse writes rather than evict keys, since an evicted
 * job is lost usage. It closes in onApplicationShutdown, after the usage processor has drained.
 */
@Injectable()
export class WorkerRedis implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerRedis');
  readonly client: Redis;
  readonly metrics: MetricsStore;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.client = new Redis({ ...(redisConnection(config.REDIS_URL) as object), lazyConnect: false });
    this.client.on('error', () => undefined); // BullMQ's connections report outages; this one just reconnects.
    this.metrics = new MetricsStore(this.client, config.QUEUE_PREFIX);
  }

  async onApplicationBootstrap(): Promise<void> {
    const warning = evictionWarning(await this.evictionPolicy());
    if (warning) this.logger.error(warning);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }

  async evictionPolicy(): Promise<string | null> {
    try {
      const reply = (await this.client.config('GET', 'maxmemory-policy')) as string[];
      return reply[1] ?? null;
    } catch {
      return null;
    }
  }
}

/** The warning to shout at start, or null when Redis keeps every key (maxmemory-policy noeviction). */
export function evictionWarning(policy: string | null): string | null {
  if (policy === 'noeviction') return null;
  return `Redis maxmemory-policy is ${policy ?? 'unknown (CONFIG GET refused)'}: set it to noeviction, or Redis may evict queued usage jobs under memory pressure and that usage is never billed.`;
}
