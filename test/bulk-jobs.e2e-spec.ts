import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { FlowProducer, Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { BulkJobs, redisConnection, removesOnComplete } from '../libs/queue/src/index.js';
import { UsageIngestService } from '../apps/worker/src/ingest/usage-ingest.service.js';
import { startWorker, testConfig, uniqueQueueName } from './support/api.js';
import { uniqueId, usageEvent } from './support/factories.js';
import { WORKER_CONCURRENCY } from '../apps/worker/src/processors/usage.processor.js';

/**
 * The bulk taker against BullMQ itself: what it takes and leaves, and that BullMQ sees the jobs
 * it holds and finishes exactly as its own (states, return values, events, retention, stalled
 * jobs handed out again).
 */
const config = testConfig();
const connection = redisConnection(config.REDIS_URL);
const redis = new Redis({ ...(connection as object) });
const KEEP_ALL = { count: -1, ageSeconds: 0 };
let name: string;
let queue: Queue;
let bulk: BulkJobs;
const closers: (() => Promise<unknown>)[] = [];

beforeEach(() => {
  name = uniqueQueueName();
  queue = new Queue(name, { connection, prefix: config.QUEUE_PREFIX });
  bulk = new BulkJobs(redis, config.QUEUE_PREFIX, name, 'usage');
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await queue.obliterate({ force: true });
  await queue.close();
});
afterAll(() => redis.quit());

const event = (n: number) => ({ event_id: `e-${n}`, n });

describe('BulkJobs.take', () => {
  it('takes waiting usage jobs oldest first, locked and active, and stops at the first job that is not one', async () => {
    const first = await queue.addBulk([0, 1, 2].map((n) => ({ name: 'usage', data: event(n) })));
    const batch = await queue.add('usage-batch', { events: [event(3)] });
    await queue.add('usage', event(4));

    const taken = await bulk.take(10, 'token-1', 30_000);
    expect(taken.map((t) => t.id)).toEqual(first.map((j) => j.id));
    expect(taken.map((t) => JSON.parse(t.data))).toEqual([event(0), event(1), event(2)]);
    expect(await queue.getJobCounts('active', 'waiting')).toEqual({ active: 3, waiting: 2 });
    expect(await batch.getState()).toBe('waiting');
    expect((await queue.getWaiting()).map((j) => j.name).sort()).toEqual(['usage', 'usage-batch']);
    const held = (await Job.fromId(queue, first[0].id!))!;
    expect(await held.getState()).toBe('active');
    expect(held.attemptsStarted).toBe(1);
    expect(held.processedOn).toBeGreaterThan(0);
    expect(await redis.get(`${config.QUEUE_PREFIX}:${name}:${first[0].id}:lock`)).toBe('token-1');

    // The batch job is next in line now: nothing more is taken until BullMQ's worker has had it.
    expect(await bulk.take(10, 'token-2', 30_000)).toEqual([]);
    expect(await batch.getState()).toBe('waiting');
  });

  it('takes at most max jobs', async () => {
    await queue.addBulk([0, 1, 2, 3, 4].map((n) => ({ name: 'usage', data: event(n) })));
    expect(await bulk.take(2, 't', 30_000)).toHaveLength(2);
    expect(await queue.getJobCounts('active', 'waiting')).toEqual({ active: 2, waiting: 3 });
  });

  it('takes nothing from a paused queue, or jobs that are delayed, prioritized, deduplicated or part of a flow', async () => {
    await queue.add('usage', event(0), { delay: 60_000 });
    await queue.add('usage', event(1), { priority: 5 });
    expect(await bulk.take(10, 't', 30_000)).toEqual([]);

    await queue.add('usage', event(2), { deduplication: { id: 'only-once' } });
    expect(await bulk.take(10, 't', 30_000)).toEqual([]);
    await queue.obliterate({ force: true });

    const flows = new FlowProducer({ connection, prefix: config.QUEUE_PREFIX });
    closers.push(() => flows.close());
    await flows.add({ name: 'parent', queueName: `${name}-parents`, children: [{ name: 'usage', queueName: name, data: event(3) }] });
    expect(await bulk.take(10, 't', 30_000)).toEqual([]);
    expect(await queue.getJobCounts('waiting')).toEqual({ waiting: 1 });
    const parents = new Queue(`${name}-parents`, { connection, prefix: config.QUEUE_PREFIX });
    await parents.obliterate({ force: true });
    await parents.close();
    await queue.obliterate({ force: true });

    await queue.add('usage', event(4));
    await queue.pause();
    expect(await bulk.take(10, 't', 30_000)).toEqual([]);
    await queue.resume();
    expect(await bulk.take(10, 't', 30_000)).toHaveLength(1);
  });
});

describe('BulkJobs.complete', () => {
  it('completes held jobs with their return value and events, as a BullMQ worker would', async () => {
    const events = new QueueEvents(name, { connection, prefix: config.QUEUE_PREFIX });
    closers.push(() => events.close());
    await events.waitUntilReady();
    const seen: { jobId: string; returnvalue: unknown }[] = [];
    events.on('completed', ({ jobId, returnvalue }) => seen.push({ jobId, returnvalue }));

    const jobs = await queue.addBulk([0, 1].map((n) => ({ name: 'usage', data: event(n) })));
    const removed = await queue.add('usage', event(2), { removeOnComplete: true });
    const taken = await bulk.take(10, 'tok', 30_000);
    expect(taken.map((t) => t.removeOnComplete)).toEqual([false, false, true]);

    const value = JSON.stringify({ flush: 'f-1', priced: 3, rejected: 0, duplicates: 0 });
    expect(await bulk.complete(taken, 'tok', value, KEEP_ALL)).toEqual({ completed: 3, notHeld: 0 });

    expect(await queue.getJobCounts('active', 'waiting', 'completed')).toEqual({ active: 0, waiting: 0, completed: 2 });
    const done = (await Job.fromId(queue, jobs[0].id!))!;
    expect(await done.getState()).toBe('completed');
    expect(done.returnvalue).toEqual({ flush: 'f-1', priced: 3, rejected: 0, duplicates: 0 });
    expect(done.attemptsMade).toBe(1);
    expect(done.finishedOn).toBeGreaterThanOrEqual(done.processedOn!);
    expect(await Job.fromId(queue, removed.id!)).toBeUndefined();
    expect(await redis.exists(`${config.QUEUE_PREFIX}:${name}:${jobs[0].id}:lock`)).toBe(0);

    for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(seen.map((s) => s.jobId).sort()).toEqual([jobs[0].id, jobs[1].id, removed.id].sort());
    expect(seen[0].returnvalue).toEqual({ flush: 'f-1', priced: 3, rejected: 0, duplicates: 0 });
  });

  it('keeps as many completed jobs as the worker option says, removing the oldest', async () => {
    const jobs = await queue.addBulk([0, 1, 2, 3, 4].map((n) => ({ name: 'usage', data: event(n) })));
    const taken = await bulk.take(10, 'tok', 30_000);
    expect(await bulk.complete(taken, 'tok', '{}', { count: 3, ageSeconds: 3_600 })).toEqual({ completed: 5, notHeld: 0 });
    expect((await queue.getCompleted()).map((j) => j.id).sort()).toEqual(jobs.slice(2).map((j) => j.id).sort());
    expect(await Job.fromId(queue, jobs[0].id!)).toBeUndefined();
  });

  it('leaves alone jobs it no longer holds', async () => {
    await queue.add('usage', event(0));
    const taken = await bulk.take(10, 'mine', 30_000);
    expect(await bulk.complete(taken, 'someone-else', '{}', KEEP_ALL)).toEqual({ completed: 0, notHeld: 1 });
    expect(await queue.getJobCounts('active')).toEqual({ active: 1 });
  });
});

describe('locks', () => {
  const stalledChecker = () => {
    const worker = new Worker(name, async (job) => ({ by: 'bullmq', n: job.data.n }), {
      connection,
      prefix: config.QUEUE_PREFIX,
      lockDuration: 1_000,
      stalledInterval: 300,
      maxStalledCount: 10,
    });
    closers.push(() => worker.close());
    return worker;
  };

  it('hands a job out again once its holder stops renewing the lock, and its late completion changes nothing', async () => {
    const job = await queue.add('usage', event(7));
    const taken = await bulk.take(10, 'dead-holder', 500);
    const worker = stalledChecker();
    const stalled: string[] = [];
    worker.on('stalled', (id) => stalled.push(id));

    for (let i = 0; i < 200 && (await job.getState()) !== 'completed'; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    expect(stalled).toEqual([job.id]);
    expect((await Job.fromId(queue, job.id!))!.returnvalue).toEqual({ by: 'bullmq', n: 7 });
    expect(await bulk.complete(taken, 'dead-holder', '{"late":true}', KEEP_ALL)).toEqual({ completed: 0, notHeld: 1 });
    expect((await Job.fromId(queue, job.id!))!.returnvalue).toEqual({ by: 'bullmq', n: 7 });
  });

  it('keeps a job its holder renews, through several stalled checks', async () => {
    const job = await queue.add('usage', event(8));
    const taken = await bulk.take(10, 'alive', 600);
    const worker = stalledChecker();
    const stalled: string[] = [];
    worker.on('stalled', (id) => stalled.push(id));

    for (let i = 0; i < 8; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      expect(await bulk.extend([job.id!], 'alive', 600)).toBe(1);
    }
    expect(stalled).toEqual([]);
    expect(await job.getState()).toBe('active');
    expect(await bulk.extend([job.id!], 'not-the-holder', 600)).toBe(0);
    expect(await bulk.complete(taken, 'alive', '{"ok":true}', KEEP_ALL)).toEqual({ completed: 1, notHeld: 0 });
    expect((await Job.fromId(queue, job.id!))!.returnvalue).toEqual({ ok: true });
  });
});

describe('removesOnComplete', () => {
  it.each([
    ['{"removeOnComplete":true}', true],
    ['{"removeOnComplete":0}', true],
    ['{"removeOnComplete":{"count":0}}', true],
    ['{"removeOnComplete":false}', false],
    ['{"removeOnComplete":100}', false],
    ['{"removeOnComplete":{"age":60}}', false],
    ['{}', false],
    ['not json', false],
  ])('%s -> %s', (opts, expected) => {
    expect(removesOnComplete(opts)).toBe(expected);
  });
});

describe('the service worker', () => {
  it('fails bulk-taken jobs as BullMQ would when their flush fails for a reason other than the events', async () => {
    const worker = await startWorker({ USAGE_QUEUE: name });
    closers.push(() => worker.close());
    const ingest = worker.get(UsageIngestService);
    ingest.flush = () => Promise.reject(new Error('disk on fire'));
    // Far more jobs than BullMQ's Worker runs at once: most of them are taken in bulk.
    const n = WORKER_CONCURRENCY + 200;
    const jobs = await queue.addBulk(Array.from({ length: n }, () => ({ name: 'usage', data: usageEvent(uniqueId()) })));
    for (let i = 0; i < 400 && (await queue.getFailedCount()) < n; i++) await new Promise((resolve) => setTimeout(resolve, 25));
    const failed = await queue.getFailed(0, n);
    expect(failed.map((j) => j.id).sort()).toEqual(jobs.map((j) => j.id!).sort());
    expect(new Set(failed.map((j) => j.failedReason))).toEqual(new Set(['disk on fire']));
    expect(failed.every((j) => j.attemptsMade === 1)).toBe(true);
    expect(await queue.getJobCounts('active', 'waiting')).toEqual({ active: 0, waiting: 0 });
  });
});
