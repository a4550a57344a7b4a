import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { createRedisClient, dataNodes, MetricsStore, type RedisClient } from '@app/queue';

/**
 * The worker's own Redis connection: the bulk taker's scripts, metrics, the BullMQ queues and
 * workers (a BullMQ Worker opens copies of it for itself), and at start a loud warning unless Redis
 * (each master, on a cluster) would refuse writes rather than evict keys, since an evicted job is
 * lost usage. It closes in onApplicationShutdown, after the processors have drained.
 */
@Injectable()
export class WorkerRedis implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('WorkerRedis');
  readonly client: RedisClient;
  readonly metrics: MetricsStore;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.client = createRedisClient(config.REDIS_URL);
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

  /** The eviction policy, or the first one that is not noeviction among a cluster's masters. */
  async evictionPolicy(): Promise<string | null> {
    try {
      const replies = await Promise.all((await dataNodes(this.client)).map((node) => node.config('GET', 'maxmemory-policy') as Promise<string[]>));
      const policies = replies.map((reply) => reply[1] ?? null);
      const other = policies.find((policy) => policy !== 'noeviction');
      return other === undefined ? (policies[0] ?? null) : other;
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
