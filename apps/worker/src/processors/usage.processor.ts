import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { Job, Worker } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { BulkJobs, type KeepJobs, type TakenJob, USAGE_JOB } from '@app/queue';
import { type FlushResult, type PreparedJob, UsageIngestService } from '../ingest/usage-ingest.service.js';
import { WorkerRedis } from '../ingest/worker-redis.js';
import { FlushLanes } from './flush-lanes.js';

/**
 * Jobs BullMQ's Worker runs at once. Batch jobs carry up to 1000 events each, so a few keep a
 * flush full; single-event jobs mostly arrive through the bulk taker instead (see below).
 */
export const WORKER_CONCURRENCY = 32;
/** Single-event jobs taken off the wait list in one Redis call. */
export const TAKE_JOBS = 500;
/** BullMQ's Worker writes it on each job it takes (`processedBy`); the bulk taker writes none. */
export const WORKER_NAME = 'billing-worker';
/** What the worker keeps of completed jobs (BullMQ's removeOnComplete), for the bulk taker too. */
const KEEP_COMPLETED: KeepJobs = { count: 10_000, ageSeconds: 3_600 };
/** Most events written by one transaction. */
export const MAX_FLUSH_EVENTS = 5_000;
/**
 * Most events taken, validated and waiting for a flush at once, per flush lane: one flush's worth
 * in the database and one being prepared behind it. More jobs wait their turn.
 */
export const PENDING_EVENTS_PER_LANE = 2 * MAX_FLUSH_EVENTS;
/** How long shutdown waits for jobs in flight before leaving them to be redelivered. */
const CLOSE_GRACE_MS = 10_000;

/**
 * Consumes USAGE_QUEUE. A job is acknowledged only after the transaction holding its events has
 * committed; a crash before that leaves it to be redelivered, and redelivery changes nothing.
 * Shutdown drains before any connection closes (Nest closes the database pool and Redis in the
 * next phase, onApplicationShutdown). With WORKER_BULK_TAKE=off there is no bulk taker: BullMQ's
 * Worker takes every job, one script per job, and nothing here touches BullMQ's keys directly.
 */
@Injectable()
export class UsageProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('UsageProcessor');
  private worker?: Worker;
  private readonly lanes: FlushLanes;
  private readonly admission: Admission;
  /** The bulk taker; absent with WORKER_BULK_TAKE=off. */
  private readonly bulk?: BulkJobs;
  /** Bulk-taken jobs by lock token, until completed: their locks are renewed, shutdown waits for them. */
  private readonly inFlight = new Map<string, { jobs: readonly TakenJob[]; settled: Promise<void> }>();
  private lockRenewal?: NodeJS.Timeout;
  /** The take loop while it runs: a take on its way back from Redis has not registered its jobs yet. */
  private taker?: Promise<void>;
  private taking = false;
  private takeAgain = false;
  private stopping = false;

  constructor(
    private readonly ingest: UsageIngestService,
    private readonly redis: WorkerRedis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.lanes = new FlushLanes(config.WORKER_FLUSH_LANES, (jobs) => this.flush(jobs), MAX_FLUSH_EVENTS);
    this.admission = new Admission(config.WORKER_FLUSH_LANES * PENDING_EVENTS_PER_LANE);
    if (config.WORKER_BULK_TAKE) this.bulk = new BulkJobs(redis.client, config.QUEUE_PREFIX, config.USAGE_QUEUE, USAGE_JOB);
  }

  onApplicationBootstrap(): void {
    this.worker = new Worker(this.config.USAGE_QUEUE, (job) => this.process(job), {
      connection: this.redis.client,
      prefix: this.config.QUEUE_PREFIX,
      name: WORKER_NAME,
      concurrency: WORKER_CONCURRENCY,
      // A killed worker's jobs come back after their lock expires; keep redelivering them.
      lockDuration: this.config.WORKER_LOCK_DURATION_MS,
      stalledInterval: this.config.WORKER_STALLED_INTERVAL_MS,
      maxStalledCount: 100,
      removeOnComplete: { age: KEEP_COMPLETED.ageSeconds, count: KEEP_COMPLETED.count },
      removeOnFail: { age: 7 * 86_400 },
    });
    const bulk = this.bulk;
    if (bulk) this.lockRenewal = setInterval(() => this.renewLocks(bulk), this.config.WORKER_LOCK_DURATION_MS / 2);
    else this.logger.log("bulk taker off (WORKER_BULK_TAKE=off): BullMQ's Worker takes every job");
    this.worker.on('error', (error) => this.logger.warn(`queue connection: ${error.message}`));
    this.worker.on('failed', (job, error) => this.logger.error(`job ${job?.id} (${job?.name}) failed: ${error.message}`));
    this.worker.on('stalled', (jobId) => this.logger.warn(`job ${jobId} stalled (its worker died or hung): handed out again`));
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.closeWorker();
    clearInterval(this.lockRenewal);
  }

  private async closeWorker(): Promise<void> {
    if (!this.worker) return;
    this.ingest.stop();
    // The take loop first (it stops after its current take, which may hold jobs), then every bulk it registered.
    const bulks = (this.taker ?? Promise.resolve()).then(() => Promise.all([...this.inFlight.values()].map((bulk) => bulk.settled)));
    const closed = Promise.all([this.worker.close(), bulks]);
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), CLOSE_GRACE_MS).unref());
    if ((await Promise.race([closed, timer])) === 'timeout') {
      this.logger.warn('jobs still in flight at shutdown: leaving them to be redelivered');
      await this.worker.close(true);
    }
  }

  private async process(job: Job): Promise<FlushResult> {
    // A job handed out means the queue has work: take what waits behind it in bulk.
    if (this.bulk) this.takeWaiting(this.bulk);
    const weight = Math.max(1, Math.min(MAX_FLUSH_EVENTS, Array.isArray(job.data?.events) ? job.data.events.length : 1));
    await this.admission.enter(weight);
    try {
      const prepared = await this.ingest.prepare({ id: job.id ?? '', name: job.name, data: job.data });
      const result = await this.lanes.submit(prepared);
      if (result instanceof Error) throw result;
      return result;
    } finally {
      this.admission.leave(weight);
    }
  }

  /**
   * Takes waiting single-event jobs in bulk while there are any, as many as admission lets in.
   * Each bulk is validated as one, joins the next flush, and is completed in one call after the
   * commit. Runs once at a time; a call while it runs makes it look again before it stops.
   */
  private takeWaiting(bulk: BulkJobs): void {
    if (this.stopping) return;
    if (this.taking) {
      this.takeAgain = true;
      return;
    }
    this.taking = true;
    this.taker = (async () => {
      while (!this.stopping) {
        await this.admission.enter(TAKE_JOBS);
        const token = randomUUID();
        let jobs: TakenJob[] = [];
        try {
          if (!this.stopping) jobs = await bulk.take(TAKE_JOBS, token, this.config.WORKER_LOCK_DURATION_MS);
        } catch (error) {
          this.logger.warn(`bulk take failed (${(error as Error).message}); BullMQ's worker goes on taking jobs one by one`);
        }
        this.admission.leave(TAKE_JOBS - jobs.length);
        if (jobs.length === 0) {
          if (!this.takeAgain) break;
          this.takeAgain = false;
          continue;
        }
        const settled = this.settleTaken(bulk, jobs, token)
          .catch((error: Error) => this.logger.error(`${jobs.length} bulk-taken jobs left to be redelivered: ${error.message}`))
          .finally(() => {
            this.inFlight.delete(token);
            this.admission.leave(jobs.length);
          });
        this.inFlight.set(token, { jobs, settled });
      }
    })().finally(() => {
      this.taking = false;
      this.takeAgain = false;
    });
  }

  private async settleTaken(bulk: BulkJobs, jobs: readonly TakenJob[], token: string): Promise<void> {
    const events = jobs.map((job) => parseJobData(job.data));
    const prepared = await this.ingest.prepareEvents(`${jobs[0].id}+${jobs.length - 1}`, events, jobs.length);
    const result = await this.lanes.submit(prepared);
    if (result instanceof Error) {
      // Not an event problem (those are recorded rejections): fail each job as BullMQ's worker would.
      for (const taken of jobs) {
        const job = await Job.fromId(this.worker!, taken.id);
        await job?.moveToFailed(result, token, false).catch((e: Error) => this.logger.error(`job ${taken.id}: ${e.message}`));
      }
      return;
    }
    const value = JSON.stringify(result);
    for (let attempt = 1; ; attempt++) {
      try {
        const { notHeld } = await bulk.complete(jobs, token, value, KEEP_COMPLETED);
        if (notHeld) this.logger.warn(`${notHeld} bulk-taken jobs were handed out again before completion (lock expired); their redelivery is a duplicate`);
        return;
      } catch (error) {
        // Billed and committed: if the jobs cannot be completed, they come back and count as duplicates.
        if (attempt * 1_000 >= this.config.WORKER_LOCK_DURATION_MS) throw error;
        this.logger.warn(`completing ${jobs.length} bulk-taken jobs failed (${(error as Error).message}); retrying`);
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  private renewLocks(bulk: BulkJobs): void {
    for (const [token, { jobs }] of this.inFlight) {
      bulk
        .extend(jobs.map((j) => j.id), token, this.config.WORKER_LOCK_DURATION_MS)
        .catch((error: Error) => this.logger.warn(`renewing locks of ${jobs.length} bulk-taken jobs failed: ${error.message}`));
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

/** A job's data as BullMQ stored it (JSON text); text that is not JSON is passed on as is, to be rejected. */
function parseJobData(data: string): unknown {
  try {
    return JSON.parse(data);
  } catch {
    return data;
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
