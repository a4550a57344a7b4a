/**
 * Ceiling 2's worker, run as a child process like the service worker: a BullMQ Worker with a
 * no-op processor and the service worker's stalled and retention settings, at concurrency
 * BENCH_NOOP_CONCURRENCY (512 by default: the best of those measured on a 2-core VM, about
 * 20.3k jobs/s at 32, 21.1k at 512, 17.8k at 2048), consuming BENCH_NOOP_EXPECT jobs. Prints "ready" once connected and "done <ms>" when the last
 * job has completed.
 *
 * Env: REDIS_URL, QUEUE_PREFIX, USAGE_QUEUE, BENCH_NOOP_EXPECT, BENCH_NOOP_CONCURRENCY.
 */
import { Worker } from 'bullmq';
import { redisConnection } from '@app/queue';

const expect = Number(process.env.BENCH_NOOP_EXPECT);
const concurrency = Number(process.env.BENCH_NOOP_CONCURRENCY);
let completed = 0;
let started = 0;

const worker = new Worker(
  process.env.USAGE_QUEUE!,
  async () => {
    if (started === 0) started = performance.now();
    return undefined;
  },
  {
    connection: redisConnection(process.env.REDIS_URL!),
    prefix: process.env.QUEUE_PREFIX!,
    concurrency,
    // Same as apps/worker/src/processors/usage.processor.ts.
    maxStalledCount: 100,
    removeOnComplete: { age: 3_600, count: 10_000 },
    removeOnFail: { age: 7 * 86_400 },
  },
);
worker.on('completed', () => {
  completed += 1;
  if (completed === expect) process.stdout.write(`done ${(performance.now() - started).toFixed(1)}\n`);
});
worker.on('failed', (job, error) => process.stderr.write(`job ${job?.id} failed: ${error.message}\n`));
worker.on('error', (error) => process.stderr.write(`worker error: ${error.message}\n`));

await worker.waitUntilReady();
process.stdout.write(`ready ${concurrency}\n`);

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    void worker.close().then(() => process.exit(0));
  });
}
