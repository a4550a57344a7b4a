import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { Queue } from 'bullmq';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { hashTag } from '../libs/config/src/index.js';
import { ReconciliationService } from '../libs/db/src/index.js';
import { BulkJobs, createRedisClient, keySlot, type RedisClient, type TakenJob } from '../libs/queue/src/index.js';
import { ADMIN, drained, startApi, startWorker, testConfig, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, credit } from './support/factories.js';
import { freePort } from './support/ports.js';
import { RedisCluster } from './support/redis-cluster.js';
import { scratchDatabase } from './support/scratch.js';
import { until } from './support/until.js';
import { balancesOf, Workload, type WorkloadEvent } from './support/workload.js';

/**
 * The API and a worker against a Redis Cluster of three masters (each with a replica) started
 * here: the queue, the bulk taker's scripts, the metrics hash and health all on the cluster, then
 * the master holding the queue restarted under load. A database of its own, so reconciliation
 * speaks of this file's events only.
 */
const run = randomBytes(3).toString('hex');
const USAGE_QUEUE = uniqueQueueName();
const QUEUE_PREFIX = `{billing-cluster-${run}}`;
const GIVEN = '100';
let cluster: RedisCluster;
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let worker: INestApplicationContext;
let client: RedisClient;
let gateway: Queue;
let db: DataSource;
let accounts: string[];
let workload: Workload;
const takes = jest.spyOn(BulkJobs.prototype, 'take');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  cluster = await RedisCluster.start(3);
  scratch = await scratchDatabase();
  const overrides = { REDIS_URL: cluster.url, QUEUE_PREFIX, USAGE_QUEUE, DATABASE_URL: scratch.url, WORKER_LOCK_DURATION_MS: 5_000, WORKER_STALLED_INTERVAL_MS: 2_000 };
  api = await startApi(overrides);
  worker = await startWorker(overrides);
  db = api.app.get(DataSource);
  client = createRedisClient(cluster.url);
  gateway = new Queue(USAGE_QUEUE, { connection: client, prefix: QUEUE_PREFIX });
  gateway.on('error', () => undefined);
  accounts = [];
  for (let i = 0; i < 20; i++) {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, GIVEN);
    accounts.push(account_id);
  }
  workload = new Workload(accounts, `cluster-${run}`);
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await client?.quit().catch(() => client.disconnect());
  await worker?.close();
  await api?.close();
  cluster?.stop();
  await scratch?.drop();
}, 30_000);

const billed = async () => (await db.query('SELECT count(*)::int AS n FROM usage_events WHERE event_id LIKE $1', [`cluster-${run}-%`]))[0].n as number;

/** Adds jobs as a gateway does: until Redis acknowledges them (a retry may add them twice, which is harmless). */
async function addUntilAcknowledged(jobs: { name: string; data: unknown }[], retries: { n: number }): Promise<void> {
  for (;;) {
    try {
      await gateway.addBulk(jobs);
      return;
    } catch {
      retries.n++;
      await sleep(100);
    }
  }
}

/** Posts events over HTTP until the API answers 202 (a 503 means nothing was queued). */
async function postUntilAccepted(events: WorkloadEvent[], retries: { n: number }): Promise<void> {
  for (;;) {
    const res = await api.http().post('/v1/usage-events').set(ADMIN).send({ events });
    if (res.status === 202) {
      expect(res.body).toEqual({ accepted: events.length, rejected: [] });
      return;
    }
    expect(res.status).toBe(503);
    retries.n++;
    await sleep(100);
  }
}

/** The Redis key of one of the queue's parts, as BullMQ names it under the prefix. */
const queueKey = (type: string) => `${QUEUE_PREFIX}:${USAGE_QUEUE}:${type}`;

const singles = (events: WorkloadEvent[]) => events.map((data) => ({ name: 'usage', data }));

/** Where the queue stands when events are missing: what a failure of everythingBilled reports beside its timeout. */
async function queueState(): Promise<string> {
  const rows: { event_id: string }[] = await db.query('SELECT event_id FROM usage_events WHERE event_id LIKE $1', [`cluster-${run}-%`]);
  const billedIds = new Set(rows.map((r) => r.event_id));
  const missing = workload.ids.filter((id) => !billedIds.has(id));
  const counts = await gateway.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
  const active = await Promise.all(
    (await gateway.getActive(0, 4)).map(async (job) => `${job.id} (${job.name}, lock ${await client.pttl(queueKey(`${job.id}:lock`))} ms)`),
  );
  return `${missing.length} missing (${missing.slice(0, 5).join(', ')}); jobs ${JSON.stringify(counts)}; active ${active.join(', ') || 'none'}; stalled set ${await client.scard(queueKey('stalled'))}`;
}

async function everythingBilled(timeoutMs: number): Promise<void> {
  try {
    await until(async () => (await billed()) === workload.ids.length, `all ${workload.ids.length} events billed`, timeoutMs, 100);
  } catch (error) {
    throw new Error(`${(error as Error).message}: ${await queueState()}`);
  }
  await drained(gateway, timeoutMs);
}

describe('on a Redis Cluster', () => {
  it('keeps every key of the queue in the slot of the prefix\'s hash tag, as the cluster itself computes it', async () => {
    const slot = keySlot(hashTag(QUEUE_PREFIX)!);
    for (const type of ['wait', 'active', 'meta', 'events', 'stalled', 'completed', '17', '17:lock', 'billing:metrics']) {
      expect(await client.cluster('KEYSLOT', type === 'billing:metrics' ? `${QUEUE_PREFIX}:${type}` : queueKey(type))).toBe(slot);
    }
  });

  it('bills single usage jobs (taken in bulk), usage-batch jobs and HTTP ingest exactly once', async () => {
    const retries = { n: 0 };
    const single = workload.events(600);
    await addUntilAcknowledged([...singles(single), ...singles([...single].reverse())], retries);
    for (let b = 0; b < 4; b++) {
      const events = workload.events(250);
      await addUntilAcknowledged([{ name: 'usage-batch', data: { events } }, { name: 'usage-batch', data: { events: [...events].reverse() } }], retries);
    }
    for (let b = 0; b < 3; b++) {
      const events = workload.events(100);
      await postUntilAccepted(events, retries);
      if (b === 0) await postUntilAccepted(events, retries);
    }
    await everythingBilled(30_000);

    expect(await balancesOf(db, accounts)).toEqual(workload.expectedBalances(GIVEN));
    expect((await db.query('SELECT count(*)::int AS n FROM rejected_events'))[0].n).toBe(0);
    // The bulk taker's scripts ran on the cluster (a key outside the slot would have failed them) and took single jobs.
    const taken = (await Promise.all(takes.mock.results.map((r) => r.value as Promise<TakenJob[]>))).flat();
    expect(taken.length).toBeGreaterThan(0);
    expect(await gateway.getJobCounts('failed')).toEqual({ failed: 0 });
    // The workers' totals, kept in one hash on the cluster, reach the API's /metrics.
    await until(async () => (await api.http().get('/metrics').set(ADMIN)).text.includes(`billing_events_priced_total ${workload.ids.length}\n`), 'the metrics to count every event');
    expect((await api.http().get('/health').expect(200)).body).toMatchObject({ status: 'ok', redis: 'up' });
    expect(retries.n).toBe(0);
  });

  it('goes on billing while the master holding the queue restarts: its replica takes over, nothing acknowledged is lost, nothing is billed twice', async () => {
    const slot = keySlot(hashTag(QUEUE_PREFIX)!);
    const master = cluster.masterOf(slot);
    const retries = { n: 0 };
    const phases = { before: 0, during: 0, after: 0 };
    let phase: keyof typeof phases = 'before';
    let producing = true;
    const production = (async () => {
      for (let round = 0; producing; round++) {
        const events = workload.events(60);
        await Promise.all([
          addUntilAcknowledged([...singles(events.slice(0, 20)), { name: 'usage-batch', data: { events: events.slice(20, 40) } }], retries),
          postUntilAccepted(events.slice(40), retries),
        ]);
        phases[phase] += events.length;
        await sleep(30);
      }
    })();
    await sleep(1_000);
    phase = 'during';
    let newMaster = master;
    await cluster.restartMaster(master, (port) => (newMaster = port));
    phase = 'after';
    await sleep(1_500);
    producing = false;
    await production;
    await everythingBilled(60_000);

    expect(newMaster).not.toBe(master);
    expect(cluster.masterOf(slot)).toBe(newMaster);
    // Events were acknowledged before, while and after the master was away; all of them are billed, once.
    expect(phases.before).toBeGreaterThan(0);
    expect(phases.after).toBeGreaterThan(0);
    expect(retries.n).toBeGreaterThan(0); // the producers felt the restart
    expect(await billed()).toBe(workload.ids.length);
    expect(await balancesOf(db, accounts)).toEqual(workload.expectedBalances(GIVEN));
    // A completion that met the failover waited for the new master instead of failing the job.
    expect((await gateway.getFailed()).map((job) => job.failedReason)).toEqual([]);
    expect(await gateway.getJobCounts('failed', 'waiting', 'active', 'delayed')).toEqual({ failed: 0, waiting: 0, active: 0, delayed: 0 });
    const report = await api.app.get(ReconciliationService).run();
    expect(report.ok).toBe(true);
    await until(async () => (await api.http().get('/health')).status === 200, 'health to see the new master');
    process.stdout.write(`redis cluster: ${JSON.stringify(phases)} events acknowledged before/during/after the master restart, ${retries.n} adds or posts retried\n`);
  }, 120_000);

  it('takes a gateway\'s producer on the cluster: examples/gateway-producer.ts with a redis+cluster:// URL', async () => {
    await api.app.listen(0, '127.0.0.1');
    const child = spawn(process.execPath, ['dist/examples/gateway-producer.js'], {
      env: {
        PATH: process.env.PATH,
        API_URL: `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`,
        ADMIN_API_KEY: testConfig().ADMIN_API_KEY,
        REDIS_URL: cluster.url,
        QUEUE_PREFIX,
        USAGE_QUEUE,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    // Each of the four shapes priced three times: a usage job, a usage-batch job, and over HTTP.
    expect(stdout.split('\n').filter((line) => /^gw-[0-9a-f]{8}-\d+ .* priced /.test(line))).toHaveLength(12);
  }, 60_000);
});

describe('the test cluster itself', () => {
  it('starts a node on other ports when a port it chose is taken before redis-server binds it', async () => {
    const squatter = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => squatter.once('listening', resolve));
    const taken = (squatter.address() as AddressInfo).port;
    let first = true;
    const pickPort = async () => (first ? ((first = false), taken) : freePort());
    try {
      const other = await RedisCluster.start(3, pickPort);
      other.stop();
      expect(other.url).not.toContain(`:${taken}`);
      expect(other.url.split(',')).toHaveLength(6);
    } finally {
      squatter.close();
    }
  }, 60_000);
});
