import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Registry, collectDefaultMetrics, type Metric, type MetricObjectWithValues, type MetricValueWithName } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { MetricsStore, REDIS_CLIENT, type RedisClient, UsageProducer, type WorkerTotals } from '@app/queue';

/** A histogram whose buckets are kept elsewhere (in Redis, by the workers) and only shown here. */
class StoredHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  totals?: WorkerTotals;

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  async get(): Promise<MetricObjectWithValues<MetricValueWithName<string>>> {
    const t = this.totals;
    const values: MetricValueWithName<string>[] = t
      ? [
          ...t.buckets.map(([le, value]) => ({ metricName: `${this.name}_bucket`, labels: { le }, value })),
          { metricName: `${this.name}_sum`, labels: {}, value: t.secondsSum },
          { metricName: `${this.name}_count`, labels: {}, value: t.flushes },
        ]
      : [];
    return { name: this.name, help: this.help, type: this.type as never, aggregator: this.aggregator, values } as unknown as MetricObjectWithValues<MetricValueWithName<string>>;
  }
  reset(): void {}
}

/**
 * Prometheus metrics: the workers' totals (from Redis, so every worker on every host counts),
 * the usage queue's depth and the age of its oldest waiting job, and this process's own.
 */
@Injectable()
export class MetricsService {
  readonly registry = new Registry();
  private readonly store: MetricsStore;
  private readonly priced = new Counter({ name: 'billing_events_priced_total', help: 'Usage events priced and debited', registers: [this.registry] });
  private readonly rejected = new Counter({ name: 'billing_events_rejected_total', help: 'Usage events rejected, by reason code', labelNames: ['reason'], registers: [this.registry] });
  private readonly duplicates = new Counter({ name: 'billing_events_duplicate_total', help: 'Usage events received again with the same content (no effect)', registers: [this.registry] });
  private readonly jobs = new Counter({ name: 'billing_jobs_total', help: 'Usage jobs committed by the workers', registers: [this.registry] });
  private readonly flushSeconds = new StoredHistogram('billing_flush_duration_seconds', 'Time to validate and commit one flush (one transaction, one or more jobs)');
  private readonly queueJobs = new Gauge({ name: 'billing_queue_jobs', help: 'Jobs on the usage queue, by state', labelNames: ['state'], registers: [this.registry] });
  private readonly oldestWaiting = new Gauge({ name: 'billing_queue_oldest_waiting_seconds', help: 'Age of the oldest job waiting on the usage queue (0 when none)', registers: [this.registry] });
  private readonly up = new Gauge({ name: 'billing_metrics_redis_up', help: '1 when the worker totals and queue state could be read from Redis', registers: [this.registry] });

  constructor(
    @Inject(REDIS_CLIENT) redis: RedisClient,
    private readonly producer: UsageProducer,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.store = new MetricsStore(redis, config.QUEUE_PREFIX);
    this.registry.registerMetric(this.flushSeconds as unknown as Metric);
    collectDefaultMetrics({ register: this.registry, prefix: 'billing_api_' });
  }

  async render(): Promise<string> {
    try {
      if (!this.producer.ready) throw new Error('Redis is not connected');
      const queue = this.producer.queue;
      const [totals, counts, oldest] = await Promise.all([
        this.store.totals(),
        queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed', 'completed'),
        queue.getJobs(['wait'], 0, 0, true),
      ]);
      this.set(totals);
      for (const [state, value] of Object.entries(counts)) this.queueJobs.set({ state }, value);
      this.oldestWaiting.set(oldest[0] ? Math.max(0, (Date.now() - oldest[0].timestamp) / 1000) : 0);
      this.up.set(1);
    } catch {
      this.up.set(0);
    }
    return this.registry.metrics();
  }

  private set(t: WorkerTotals): void {
    this.priced.reset();
    this.priced.inc(t.priced);
    this.duplicates.reset();
    this.duplicates.inc(t.duplicates);
    this.jobs.reset();
    this.jobs.inc(t.jobs);
    this.rejected.reset();
    for (const [reason, value] of Object.entries(t.rejectedByReason)) this.rejected.inc({ reason }, value);
    this.flushSeconds.totals = t;
  }
}
