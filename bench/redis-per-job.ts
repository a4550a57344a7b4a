/**
 * Redis CPU per single-event usage job, on an otherwise idle Redis: what BullMQ's addBulk costs
 * Redis to enqueue a job (the producer's side), and what the worker's bulk taker costs it to take
 * and complete one (libs/queue/src/bulk-jobs.ts). Redis runs commands on one core, so the sum
 * bounds row (b)'s arrival rate whatever the rest of the service does.
 *
 *   npm run build && node dist/bench/redis-per-job.js      (REDIS_URL, default redis://127.0.0.1:6379)
 *
 * Read from INFO cpu (used_cpu_user + used_cpu_sys) around each phase, so anything else that
 * Redis serves meanwhile is counted too: run it on a quiet machine.
 */
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import { BulkJobs, USAGE_JOB, createRedisClient } from '@app/queue';

const JOBS = 50_000;
const PER_CALL = 1000;

const redis = createRedisClient(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const prefix = `redis-per-job-${randomBytes(4).toString('hex')}`;

async function redisCpuSeconds(): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1]);
  return field('used_cpu_user') + field('used_cpu_sys');
}

async function measure(label: string, jobs: () => Promise<number>): Promise<void> {
  const cpu = await redisCpuSeconds();
  const started = performance.now();
  const count = await jobs();
  const ms = performance.now() - started;
  const perJob = (((await redisCpuSeconds()) - cpu) * 1e6) / count;
  process.stdout.write(`${label}: ${count} jobs in ${ms.toFixed(0)} ms, Redis CPU ${perJob.toFixed(1)} µs per job\n`);
}

const queue = new Queue('usage', { connection: redis, prefix, defaultJobOptions: { removeOnComplete: true } });
try {
  const events = Array.from({ length: JOBS }, (_, i) => ({
    name: USAGE_JOB,
    data: {
      event_id: `redis-per-job-${i}`,
      account_id: `acct-${String(i % 1000).padStart(4, '0')}`,
      model: 'qwen3-5-4b',
      endpoint: '/v1/chat/completions',
      occurred_at: new Date().toISOString(),
      usage: { prompt_tokens: 1234, completion_tokens: 567, total_tokens: 1801, prompt_tokens_details: { cached_tokens: 0 } },
    },
  }));
  await measure(`enqueue (addBulk, ${PER_CALL} per call)`, async () => {
    for (let i = 0; i < JOBS; i += PER_CALL) await queue.addBulk(events.slice(i, i + PER_CALL));
    return JOBS;
  });
  const bulk = new BulkJobs(redis, prefix, 'usage', USAGE_JOB);
  await measure('take and complete (bulk taker, 500 per take)', async () => {
    let taken = 0;
    for (;;) {
      const jobs = await bulk.take(500, 'redis-per-job', 30_000);
      if (jobs.length === 0) return taken;
      taken += jobs.length;
      await bulk.complete(jobs, 'redis-per-job', 'null', { count: 0, ageSeconds: 0 });
    }
  });
} finally {
  await queue.obliterate({ force: true });
  await queue.close();
  redis.disconnect();
}
