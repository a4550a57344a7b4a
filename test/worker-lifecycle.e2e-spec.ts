import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { migrate, revertLastMigration } from '../libs/db/src/index.js';
import { BulkJobs, MetricsStore, redisConnection } from '../libs/queue/src/index.js';
import { migrations } from '../migrations/index.js';
import { WORKER_CONCURRENCY } from '../apps/worker/src/processors/usage.processor.js';
import { WorkerModule } from '../apps/worker/src/worker.module.js';
import { ADMIN, startApi, startWorker, testConfig, uniqueQueueName, type TestApi } from './support/api.js';
import { scratchDatabase } from './support/scratch.js';
import { createAccount, usageEvent } from './support/factories.js';
import { until } from './support/until.js';

// Its own prefix: the workers' metrics hash is per prefix, and these tests count exactly.
const QUEUE_PREFIX = `${process.env.QUEUE_PREFIX}-lifecycle`;
const connection = redisConnection(testConfig().REDIS_URL);
let api: TestApi;
let redis: Redis;
let account: string;

beforeAll(async () => {
  api = await startApi({ QUEUE_PREFIX });
  redis = new Redis({ ...(connection as object) });
  account = (await createAccount(api)).account_id;
});
afterAll(async () => {
  await redis.quit();
  await api.close();
});

describe('billing_jobs_total', () => {
  it('counts every job of a bulk take, not one per take', async () => {
    const USAGE_QUEUE = uniqueQueueName();
    const prefix = `${QUEUE_PREFIX}-count`;
    const queue = new Queue(USAGE_QUEUE, { connection, prefix });
    // Waiting before the worker starts: the first job BullMQ hands out makes the taker take the rest in bulk.
    const n = WORKER_CONCURRENCY + 700;
    await queue.addBulk(Array.from({ length: n }, () => ({ name: 'usage', data: usageEvent(account) })));
    const worker = await startWorker({ USAGE_QUEUE, QUEUE_PREFIX: prefix });
    try {
      const metrics = new MetricsStore(redis, prefix);
      // The worker records its counts just after each commit.
      await until(async () => (await metrics.totals()).events === n, `${n} events in the metrics`);
      const totals = await metrics.totals();
      expect(totals.priced).toBe(n);
      expect(totals.jobs).toBe(n);
      expect(totals.flushes).toBeLessThan(n); // some jobs did share a flush: bulk takes happened
    } finally {
      await worker.close();
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('shutdown', () => {
  it('waits for a bulk take whose reply was still on its way when shutdown began, and completes its jobs', async () => {
    const USAGE_QUEUE = uniqueQueueName();
    const queue = new Queue(USAGE_QUEUE, { connection, prefix: QUEUE_PREFIX });
    // The first take that gets jobs has them locked in Redis, but its reply is held back until released.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let tookJobs!: () => void;
    const took = new Promise<void>((resolve) => (tookJobs = resolve));
    const take = BulkJobs.prototype.take;
    const spy = jest.spyOn(BulkJobs.prototype, 'take').mockImplementation(async function (this: BulkJobs, ...args: Parameters<BulkJobs['take']>) {
      const jobs = await take.apply(this, args);
      if (jobs.length) {
        tookJobs();
        await held;
      }
      return jobs;
    });
    const worker = await startWorker({ USAGE_QUEUE, QUEUE_PREFIX });
    let closed = false;
    try {
      const n = WORKER_CONCURRENCY + 200;
      const events = Array.from({ length: n }, () => usageEvent(account));
      await queue.addBulk(events.map((data) => ({ name: 'usage', data })));
      await took;
      const closing = worker.close().then(() => (closed = true));
      // BullMQ's own jobs finish in well under this; the held take must keep shutdown waiting.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const closedBeforeTheTakeReturned = closed;
      release();
      await closing;
      expect(closedBeforeTheTakeReturned).toBe(false);
      expect(await queue.getJobCounts('active', 'waiting', 'completed', 'failed')).toEqual({ active: 0, waiting: 0, completed: n, failed: 0 });
      const [{ priced }] = await api.app.get(DataSource).query('SELECT count(*)::int AS priced FROM usage_events WHERE event_id = ANY($1)', [events.map((e) => e.event_id)]);
      expect(priced).toBe(n);
    } finally {
      release();
      spy.mockRestore();
      if (!closed) await worker.close().catch(() => undefined);
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('a worker started against an older schema', () => {
  it('waits for the missing migration, logging each wait, takes no job meanwhile, then bills', async () => {
    const scratch = await scratchDatabase();
    const latest = new migrations[migrations.length - 1]().name!;
    expect(await revertLastMigration(scratch.url)).toBe(latest);
    const USAGE_QUEUE = uniqueQueueName();
    const config = { DATABASE_URL: scratch.url, USAGE_QUEUE, QUEUE_PREFIX };
    const queue = new Queue(USAGE_QUEUE, { connection, prefix: QUEUE_PREFIX });
    const older = await startApi(config);
    const lines: string[] = [];
    const record = (message: unknown) => void lines.push(String(message));
    const logger: LoggerService = { log: record, warn: record, error: record, debug: record, verbose: record };
    let worker: Awaited<ReturnType<typeof NestFactory.createApplicationContext>> | undefined;
    let started: Promise<unknown> = Promise.resolve();
    try {
      const { account_id } = await createAccount(older);
      const event = usageEvent(account_id);
      await queue.add('usage', event);
      // Creating the context runs its init, where the worker waits: it resolves once the worker consumes.
      started = NestFactory.createApplicationContext(WorkerModule.forRoot(testConfig(config)), { logger }).then((app) => (worker = app));
      const waits = () => lines.filter((line) => line.includes('migration(s) pending'));
      await until(() => waits().length >= 2, 'two waits to be logged');
      expect(waits()[0]).toMatch(new RegExp(`^the database schema is behind this worker: 1 migration\\(s\\) pending \\(${latest}\\); waiting for npm run migrate, checking again in [\\d.]+ s \\(attempt 1\\)$`));
      expect(await queue.getJobCounts('waiting', 'active', 'failed', 'completed')).toEqual({ waiting: 1, active: 0, failed: 0, completed: 0 });

      expect((await migrate(scratch.url)).applied).toEqual([latest]);
      await started;
      await until(async () => (await queue.getCompletedCount()) === 1, 'the job to complete');
      const res = await older.http().get(`/v1/usage-events/${event.event_id}`).set(ADMIN).expect(200);
      expect(res.body).toMatchObject({ status: 'priced', cost: '0.000054' });
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      // Failed while the worker waited: let it through, so it can be closed.
      if (!worker) await Promise.race([migrate(scratch.url).then(() => started), new Promise((resolve) => setTimeout(resolve, 10_000))]).catch(() => undefined);
      await worker?.close();
      await older.close();
      await queue.obliterate({ force: true });
      await queue.close();
      await scratch.drop();
    }
  });
});
