import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { type Job, Queue, Worker } from 'bullmq';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { InvoicingService } from '@app/db';
import {
  GENERATE_INVOICES_JOB,
  MONTHLY_INVOICES_PATTERN,
  MONTHLY_INVOICES_SCHEDULER,
  type GenerateInvoicesJobData,
} from '@app/queue';
import { WorkerRedis } from '../ingest/worker-redis.js';

/**
 * Generates last month's draft invoices shortly after each UTC month ends. The scheduler is
 * upserted by every worker at start (idempotent); one maintenance job runs at a time, and a
 * run that fails is retried with backoff. Generation itself is repeatable, so a rerun is harmless.
 * Both close before the worker's Redis connection and the database pool do.
 */
@Injectable()
export class InvoiceScheduler implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('InvoiceScheduler');
  private queue?: Queue;
  private worker?: Worker;

  constructor(
    private readonly invoicing: InvoicingService,
    private readonly redis: WorkerRedis,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const connection = this.redis.client;
    this.queue = new Queue(this.config.MAINTENANCE_QUEUE, { connection, prefix: this.config.QUEUE_PREFIX });
    this.queue.on('error', (error) => this.logger.warn(`queue connection: ${error.message}`));
    this.worker = new Worker(this.config.MAINTENANCE_QUEUE, (job) => this.run(job), {
      connection,
      prefix: this.config.QUEUE_PREFIX,
      concurrency: 1,
      removeOnComplete: { count: 100 },
      removeOnFail: { count: 100 },
    });
    this.worker.on('error', (error) => this.logger.warn(`queue connection: ${error.message}`));
    await this.queue.upsertJobScheduler(
      MONTHLY_INVOICES_SCHEDULER,
      { pattern: MONTHLY_INVOICES_PATTERN, tz: 'UTC' },
      { name: GENERATE_INVOICES_JOB, data: {}, opts: { attempts: 10, backoff: { type: 'exponential', delay: 30_000 } } },
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
    await this.queue?.close();
  }

  async run(job: Job<GenerateInvoicesJobData>): Promise<unknown> {
    if (job.name !== GENERATE_INVOICES_JOB) return { skipped: `unknown job ${job.name}` };
    const period = job.data?.period ?? InvoicingService.previousMonth(new Date());
    return this.invoicing.generate(period, (progress) => void job.updateProgress(progress));
  }
}
