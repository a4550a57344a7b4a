import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { type Job, Worker } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { redisConnection } from '@app/queue';
import { type FlushResult, type PreparedJob, UsageIngestService } from '../ingest/usage-ingest.service.js';
import { GroupCommit } from './group-commit.js';

/** Jobs taken at once: single-event jobs arriving together share one transaction. */
export const WORKER_CONCURRENCY = 512;
/** Most events written by one transaction. */
export const MAX_FLUSH_EVENTS = 5_000;
/** Most events taken, validated and waiting for a flush at once; more jobs wait their turn. */
export const MAX_PENDING_EVENTS = 2 * MAX_FLUSH_EVENTS;
/** How long shutdown waits for jobs in flight before leaving them to be redelivered. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Consumes USAGE_QUEUE. A job is acknowledged only after the transaction holding its events has
 * committed; a crash before that leaves it to be redelivered, and redelivery changes nothing.
 */
@Injectable()
export class UsageProcessor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('UsageProcessor');
  private worker?: Worker;
  private readonly group: GroupCommit<PreparedJob, FlushResult | Error>;
  private readonly admission = new Admission(MAX_PENDING_EVENTS);

  constructor(
    private readonly ingest: UsageIngestService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.group = new GroupCommit((jobs) => this.flush(jobs), MAX_FLUSH_EVENTS);
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker(this.config.USAGE_QUEUE, (job) => this.process(job), {
      connection: redisConnection(this.config.REDIS_URL),
      prefix: this.config.QUEUE_PREFIX,
      concurrency: WORKER_CONCURRENCY,
      // A killed worker's jobs come back after their lock expires; keep redelivering them.
      lockDuration: this.config.WORKER_LOCK_DURATION_MS,
      stalledInterval: this.config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: 100,
      removeOnComplete: { age: 3_600, count: 10_000 },
      removeOnFail: { age: 7 * 86_400 },
    });
    this.worker.on('error', (error) => this.logger.warn(`queue connection: ${error.message}`));
    this.worker.on('failed', (job, error) => this.logger.error(`job ${job?.id} (${job?.name}) failed: ${error.message}`));
    this.worker.on('stalled', (jobId) => this.logger.warn(`job ${jobId} stalled (its worker died or hung): handed out again`));
  }

  async onApplicationShutdown(): Promise<void> {
    if (!this.worker) return;
    this.ingest.stop();
    const closed = this.worker.close();
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS).unref());
    if ((await Promise.race([closed, timer])) === 'timeout') {
      this.logger.warn('jobs still in flight at shutdown: leaving them to be redelivered');
      await this.worker.close(true);
    }
  }

  private async process(job: Job): Promise<FlushResult> {
    const weight = Math.max(1, Math.min(MAX_FLUSH_EVENTS, Array.isArray(job.data?.events) ? job.data.events.length : 1));
    await this.admission.enter(weight);
    try {
      const prepared = await this.ingest.prepare({ id: job.id ?? '', name: job.name, data: job.data });
      const result = await this.group.submit(prepared, prepared.events);
      if (result instanceof Error) throw result;
      return result;
    } finally {
      this.admission.leave(weight);
    }
  }

  /** One transaction for all; if it fails for good, each job alone, so one bad job fails alone. */
  private async flush(jobs: PreparedJob[]): Promise<(FlushResult | Error)[]> {
    try {
      const result = await this.ingest.flush(jobs);
      return jobs.map(() => result);
    } catch (error) {
      if (jobs.length === 1) return [error as Error];
      this.logger.warn(`flush of ${jobs.length} jobs failed (${(error as Error).message}); retrying them one by one`);
      const results: (FlushResult | Error)[] = [];
      for (const job of jobs) results.push(await this.ingest.flush([job]).catch((e: Error) => e));
      return results;
    }
  }
}

/** Lets work in while its total weight stays under a limit (one item always gets in, however heavy). */
export class Admission {
  private inside = 0;
  private readonly waiting: { weight: number; enter: () => void }[] = [];

  constructor(private readonly limit: number) {}

  enter(weight: number): Promise<void> {
    if (this.waiting.length === 0 && (this.inside === 0 || this.inside + weight <= this.limit)) {
      this.inside += weight;
      return Promise.resolve();
    }
    return new Promise((enter) => this.waiting.push({ weight, enter }));
  }

  leave(weight: number): void {
    this.inside -= weight;
    while (this.waiting.length && (this.inside === 0 || this.inside + this.waiting[0].weight <= this.limit)) {
      const next = this.waiting.shift()!;
      this.inside += next.weight;
      next.enter();
    }
  }
}
