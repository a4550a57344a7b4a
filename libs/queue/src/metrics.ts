import type { RedisClient } from './connection.js';

/** Upper bounds (seconds) of the flush latency histogram. */
export const FLUSH_SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface FlushMetrics {
  jobs: number;
  events: number;
  priced: number;
  duplicates: number;
  rejectedByReason: Record<string, number>;
  seconds: number;
}

export interface WorkerTotals {
  flushes: number;
  jobs: number;
  events: number;
  priced: number;
  duplicates: number;
  rejectedByReason: Record<string, number>;
  /** Cumulative counts per bucket upper bound, Prometheus style (+Inf last). */
  buckets: [string, number][];
  secondsSum: number;
}

/**
 * Worker counters kept in one Redis hash, so that the API's /metrics shows the totals of every
 * worker on every host. Counters only grow; a Redis without persistence resets them on restart,
 * which Prometheus counters tolerate. The hash's key starts with the queue prefix, so on a Redis
 * Cluster it shares the queue's slot and one MULTI can update it.
 */
export class MetricsStore {
  private readonly key: string;

  constructor(
    private readonly redis: RedisClient,
    prefix: string,
  ) {
    this.key = MetricsStore.key(prefix);
  }

  /** The hash's key: under the queue prefix, so on a Redis Cluster it is in the queue's slot. */
  static key(prefix: string): string {
    return `${prefix}:billing:metrics`;
  }

  async recordFlush(m: FlushMetrics): Promise<void> {
    const pipeline = this.redis.multi();
    pipeline.hincrby(this.key, 'flushes', 1);
    pipeline.hincrby(this.key, 'jobs', m.jobs);
    pipeline.hincrby(this.key, 'events', m.events);
    pipeline.hincrby(this.key, 'priced', m.priced);
    pipeline.hincrby(this.key, 'duplicates', m.duplicates);
    for (const [reason, count] of Object.entries(m.rejectedByReason)) pipeline.hincrby(this.key, `rejected:${reason}`, count);
    const bucket = FLUSH_SECONDS_BUCKETS.find((le) => m.seconds <= le);
    pipeline.hincrby(this.key, `bucket:${bucket ?? '+Inf'}`, 1);
    pipeline.hincrbyfloat(this.key, 'seconds_sum', m.seconds);
    await pipeline.exec();
  }

  async totals(): Promise<WorkerTotals> {
    const raw = await this.redis.hgetall(this.key);
    const n = (field: string) => Number(raw[field] ?? 0);
    const rejectedByReason: Record<string, number> = {};
    for (const [field, value] of Object.entries(raw)) if (field.startsWith('rejected:')) rejectedByReason[field.slice(9)] = Number(value);
    let cumulative = 0;
    const buckets: [string, number][] = [...FLUSH_SECONDS_BUCKETS.map(String), '+Inf'].map((le) => [le, (cumulative += n(`bucket:${le}`))]);
    return {
      flushes: n('flushes'),
      jobs: n('jobs'),
      events: n('events'),
      priced: n('priced'),
      duplicates: n('duplicates'),
      rejectedByReason,
      buckets,
      secondsSum: n('seconds_sum'),
    };
  }
}
