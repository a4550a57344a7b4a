import { Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { isPlainObject, mergePlans, planBatch, rejection, type BatchPlan } from '@app/billing';
import { PricingContextCache, UsageRepository, isTransient } from '@app/db';
import { MAX_BATCH_EVENTS, USAGE_BATCH_JOB, USAGE_JOB } from '@app/queue';
import { WorkerRedis } from './worker-redis.js';

export interface JobInput {
  id: string;
  name: string;
  data: unknown;
}

/** A job (or a bulk of single-event jobs taken together) validated and ready to flush. */
export interface PreparedJob {
  jobId: string;
  plan: BatchPlan;
  events: number;
  /** Queue jobs it stands for: 1, or the size of a bulk take. */
  jobs: number;
}

export interface FlushResult {
  flush: string;
  priced: number;
  rejected: number;
  duplicates: number;
}

/** Jobs with more events than this validate in a turn of their own (a single event takes microseconds). */
const TURN_EVENTS = 50;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Turns usage jobs into exact debits. prepare() validates a job as soon as it is taken (pure
 * CPU work, done while the previous flush is in the database); flush() writes any number of
 * prepared jobs in one transaction, retrying through transient database failures.
 */
@Injectable()
export class UsageIngestService {
  private readonly logger = new Logger('UsageIngest');
  private stopping = false;
  /** Validations take turns, one job per event-loop turn, so database replies are handled between them. */
  private turn: Promise<void> = Promise.resolve();

  constructor(
    private readonly usage: UsageRepository,
    private readonly pricing: PricingContextCache,
    private readonly redis: WorkerRedis,
  ) {}

  async prepare(job: JobInput): Promise<PreparedJob> {
    const events = this.eventsOf(job);
    if (!Array.isArray(events)) {
      return { jobId: job.id, events: 1, jobs: 1, plan: { priced: [], rejections: [events], duplicates: 0 } };
    }
    return this.prepareEvents(job.id, events, 1);
  }

  /** Validates and prices events that travel together (one batch job, or `jobs` single-event jobs taken at once). */
  async prepareEvents(jobId: string, events: readonly unknown[], jobs: number): Promise<PreparedJob> {
    const context = await this.withRetry(() => this.pricing.get());
    if (events.length > TURN_EVENTS) {
      const mine = this.turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
      this.turn = mine;
      await mine;
    }
    return { jobId, events: events.length, jobs, plan: planBatch(events, { ...context, now: new Date() }) };
  }

  async flush(jobs: PreparedJob[]): Promise<FlushResult> {
    const flush = randomUUID();
    const started = performance.now();
    const plan = mergePlans(jobs.map((j) => j.plan));
    const outcome = await this.withRetry(() => this.usage.record(plan.priced, plan.rejections, `usage flush ${flush}`, 'queue'));
    const result = { flush, priced: outcome.priced, rejected: outcome.rejected, duplicates: outcome.duplicates + plan.duplicates };
    const events = jobs.reduce((n, j) => n + j.events, 0);
    const jobCount = jobs.reduce((n, j) => n + j.jobs, 0);
    const seconds = (performance.now() - started) / 1000;
    this.logger.log({ msg: 'flush committed', ...result, jobs: jobCount, events, ms: Math.round(seconds * 1000) });
    this.redis.metrics
      .recordFlush({ jobs: jobCount, events, priced: result.priced, duplicates: result.duplicates, rejectedByReason: outcome.rejectedByReason, seconds })
      .catch((error: Error) => this.logger.warn(`metrics not recorded: ${error.message}`));
    return result;
  }

  /** After this, a flush that meets a database outage waits for the process to exit instead of retrying. */
  stop(): void {
    this.stopping = true;
  }

  private eventsOf(job: JobInput): unknown[] | ReturnType<typeof rejection> {
    if (job.name === USAGE_JOB) return [job.data];
    if (job.name !== USAGE_BATCH_JOB) {
      return rejection({ job: job.name, data: job.data }, 'invalid_job', `Unknown job name ${JSON.stringify(String(job.name).slice(0, 100))}: expected ${USAGE_JOB} or ${USAGE_BATCH_JOB}.`);
    }
    const events = isPlainObject(job.data) ? job.data.events : undefined;
    if (!Array.isArray(events) || events.length === 0 || events.length > MAX_BATCH_EVENTS) {
      return rejection(
        { job: job.name, data: job.data },
        'invalid_job',
        `A ${USAGE_BATCH_JOB} job carries { "events": [...] } with 1 to ${MAX_BATCH_EVENTS} events.`,
      );
    }
    return events;
  }

  /** Runs fn until it succeeds or fails for a reason a retry cannot outlive. */
  private async withRetry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (!isTransient(error)) throw error;
        if (this.stopping) await new Promise<never>(() => undefined); // leave the jobs to be redelivered
        const delay = Math.min(5_000, 50 * 2 ** Math.min(attempt, 7));
        this.logger.warn(`transient database error (attempt ${attempt}), retrying in ${delay} ms: ${(error as Error).message}`);
        await sleep(delay);
      }
    }
  }
}
