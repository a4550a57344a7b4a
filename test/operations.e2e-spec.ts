import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { Queue } from 'bullmq';
import { redisConnection } from '../libs/queue/src/index.js';
import { evictionWarning, WorkerRedis } from '../apps/worker/src/ingest/worker-redis.js';
import { ADMIN, bearer, drained, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, createKey, usageEvent } from './support/factories.js';

const USAGE_QUEUE = uniqueQueueName();
// Its own prefix: the metrics hash is per prefix, and this spec counts exactly.
const QUEUE_PREFIX = `${process.env.QUEUE_PREFIX}-ops`;
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;

beforeAll(async () => {
  api = await startApi({ USAGE_QUEUE, QUEUE_PREFIX });
  worker = await startWorker({ USAGE_QUEUE, QUEUE_PREFIX });
  queue = new Queue(USAGE_QUEUE, { connection: redisConnection(process.env.REDIS_URL!), prefix: QUEUE_PREFIX });
});
afterAll(async () => {
  await queue.close();
  await worker.close();
  await api.close();
});

const metric = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : undefined;
};

describe('/metrics', () => {
  it('counts priced, rejected by reason and duplicate events, flush latency, and the queue', async () => {
    const { account_id } = await createAccount(api);
    const event = usageEvent(account_id);
    // Payloads of its own: a rejection is recorded once per payload and reason in the whole database.
    await queue.add('usage-batch', { events: [event, event, usageEvent(account_id), usageEvent(account_id, { model: 'nope' }), `junk ${account_id}`] });
    await drained(queue);
    // The worker records its counts just after the commit, without holding the job for it.
    let res = await api.http().get('/metrics').expect(200);
    for (let i = 0; i < 100 && metric(res.text, 'billing_flush_duration_seconds_count') !== 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      res = await api.http().get('/metrics').expect(200);
    }
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(metric(res.text, 'billing_events_priced_total')).toBe(2);
    expect(metric(res.text, 'billing_events_duplicate_total')).toBe(1);
    expect(metric(res.text, 'billing_events_rejected_total{reason="unknown_model"}')).toBe(1);
    expect(metric(res.text, 'billing_events_rejected_total{reason="invalid_payload"}')).toBe(1);
    expect(metric(res.text, 'billing_flush_duration_seconds_count')).toBe(1);
    expect(metric(res.text, 'billing_flush_duration_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(metric(res.text, 'billing_queue_jobs{state="waiting"}')).toBe(0);
    expect(metric(res.text, 'billing_queue_oldest_waiting_seconds')).toBe(0);
    expect(metric(res.text, 'billing_metrics_redis_up')).toBe(1);
    expect(res.text).toContain('billing_api_process_resident_memory_bytes');
  });
});

describe('rate limiting', () => {
  it('answers 429 with Retry-After past the public limit per client, and never limits the admin key or health', async () => {
    const limited = await startApi({ USAGE_QUEUE, QUEUE_PREFIX, RATE_LIMIT_PUBLIC_PER_MINUTE: 3, RATE_LIMIT_ACCOUNT_PER_MINUTE: 2 });
    try {
      for (let i = 0; i < 3; i++) await limited.http().get('/v1/pricing').expect(200);
      const res = await limited.http().get('/v1/pricing').expect(429);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.body).toMatchObject({ status: 429, title: 'Too Many Requests' });
      for (let i = 0; i < 5; i++) await limited.http().get('/health').expect(200);
      for (let i = 0; i < 10; i++) await limited.http().get('/v1/rate-cards').set(ADMIN).expect(200);

      const { account_id } = await createAccount(limited);
      const secret = await createKey(limited, account_id);
      const other = await createKey(limited, account_id);
      await limited.http().get(`/v1/accounts/${account_id}/balance`).set(bearer(secret)).expect(200);
      await limited.http().get(`/v1/accounts/${account_id}/balance`).set(bearer(secret)).expect(200);
      await limited.http().get(`/v1/accounts/${account_id}/balance`).set(bearer(secret)).expect(429);
      // The budget is per key.
      await limited.http().get(`/v1/accounts/${account_id}/balance`).set(bearer(other)).expect(200);
    } finally {
      await limited.close();
    }
  });
});

describe('API keys', () => {
  it('lists keys without secrets and revokes one, which is refused from then on', async () => {
    const { account_id } = await createAccount(api);
    const secret = await createKey(api, account_id);
    const listed = await api.http().get(`/v1/accounts/${account_id}/api-keys`).set(ADMIN).expect(200);
    expect(listed.body.data).toEqual([{ key_id: expect.stringMatching(/^key_/), account_id, created_at: expect.any(String), revoked_at: null }]);
    expect(JSON.stringify(listed.body)).not.toContain(secret);
    const keyId = listed.body.data[0].key_id;
    await api.http().get(`/v1/accounts/${account_id}`).set(bearer(secret)).expect(200);
    await api.http().delete(`/v1/accounts/${account_id}/api-keys/${keyId}`).set(bearer(secret)).expect(403);
    await api.http().delete(`/v1/accounts/${account_id}/api-keys/${keyId}`).set(ADMIN).expect(204);
    await api.http().get(`/v1/accounts/${account_id}`).set(bearer(secret)).expect(401);
    await api.http().delete(`/v1/accounts/${account_id}/api-keys/${keyId}`).set(ADMIN).expect(204);
    await api.http().delete(`/v1/accounts/${account_id}/api-keys/key_0000000000000000`).set(ADMIN).expect(404);
    const after = await api.http().get(`/v1/accounts/${account_id}/api-keys`).set(ADMIN).expect(200);
    expect(after.body.data[0].revoked_at).toEqual(expect.any(String));
  });
});

describe('Redis eviction policy', () => {
  it('warns loudly at start unless Redis uses noeviction', async () => {
    expect(evictionWarning('noeviction')).toBeNull();
    expect(evictionWarning('allkeys-lru')).toContain('Redis maxmemory-policy is allkeys-lru: set it to noeviction');
    expect(evictionWarning(null)).toContain('unknown (CONFIG GET refused)');
    expect(typeof (await worker.get(WorkerRedis).evictionPolicy())).toBe('string');
  });
});
