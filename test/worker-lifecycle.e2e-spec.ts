import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { MetricsStore, redisConnection } from '../libs/queue/src/index.js';
import { WORKER_CONCURRENCY } from '../apps/worker/src/processors/usage.processor.js';
import { startApi, startWorker, testConfig, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, usageEvent } from './support/factories.js';

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

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

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
