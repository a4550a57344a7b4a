import { describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import { spawn, type ChildProcess } from 'node:child_process';
import { redisConnection } from '../libs/queue/src/index.js';
import { ADMIN, startApi, testConfig, uniqueQueueName } from './support/api.js';
import { createAccount, usageEvent } from './support/factories.js';
import { freePort } from './support/ports.js';
import { until } from './support/until.js';

/** Live heap after a full collection (npm test runs node with --expose-gc). */
function liveHeap(): number {
  global.gc?.();
  global.gc?.();
  return process.memoryUsage().heapUsed;
}

describe('POST /v1/usage-events while Redis is down', () => {
  it('answers 503 at once, keeps nothing, and none of the refused batches reaches the queue when Redis is back', async () => {
    expect(global.gc).toBeDefined();
    const port = await freePort();
    const REDIS_URL = `redis://127.0.0.1:${port}`;
    const USAGE_QUEUE = uniqueQueueName();
    const api = await startApi({ REDIS_URL, USAGE_QUEUE });
    let redis: ChildProcess | undefined;
    let queue: Queue | undefined;
    try {
      const { account_id } = await createAccount(api);
      const post = () => api.http().post('/v1/usage-events').set(ADMIN).send({ events: Array.from({ length: 1000 }, () => usageEvent(account_id)) });
      const refused = async () => {
        const res = await post();
        expect(res.status).toBe(503);
        expect(res.headers['retry-after']).toBe('5');
        expect(res.body).toMatchObject({ type: '/problems/queue-unavailable', status: 503 });
      };
      await api.http().get('/health').expect(503);
      for (let i = 0; i < 3; i++) await refused(); // warm up: first requests allocate what any request would
      const before = liveHeap();
      const started = performance.now();
      // 100 batches of 1000 events, 10 at a time, as a gateway retrying against a dead queue would send them.
      for (let round = 0; round < 10; round++) await Promise.all(Array.from({ length: 10 }, refused));
      const seconds = (performance.now() - started) / 1000;
      const grownMb = (liveHeap() - before) / 2 ** 20;
      expect(grownMb).toBeLessThan(20); // a kept batch is about 1 MB: 100 kept would be 100 MB and more
      expect(seconds).toBeLessThan(15); // at once: no waiting for a connection that is not there

      // Redis appears on that port: the API reconnects, and the queue holds nothing of what was refused.
      redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
      await until(async () => (await api.http().get('/health')).status === 200, 'the API to see Redis');
      expect((await api.http().get('/health').expect(200)).body).toMatchObject({ status: 'ok', redis: 'up' });
      queue = new Queue(USAGE_QUEUE, { connection: redisConnection(REDIS_URL), prefix: testConfig().QUEUE_PREFIX });
      await until(async () => (await api.http().post('/v1/usage-events').set(ADMIN).send({ events: [usageEvent(account_id)] })).status === 202, 'a batch to be accepted');
      // Anything an offline queue had kept would have been sent on reconnecting, before the batch just accepted.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const waiting = await queue.getJobs(['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed']);
      expect(waiting.map((job) => job.data.events.length)).toEqual([1]);
    } finally {
      await queue?.close();
      await api.close();
      redis?.kill('SIGTERM');
    }
  }, 120_000);
});
