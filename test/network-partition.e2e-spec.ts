import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { ReconciliationService } from '../libs/db/src/index.js';
import { drained, producer, startApi, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, credit } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { until } from './support/until.js';
import { balancesOf, Workload } from './support/workload.js';

/**
 * Two worker processes (dist/) on one queue; one of them reaches Postgres and Redis through TCP
 * proxies that play the network: slow, then cut in the middle of a flush (a transaction that has
 * written and not committed), then back, then stalled in the middle of a flush and back. The other
 * worker keeps going throughout. A database of its own, so reconciliation is this file's alone.
 */
const LOCK_MS = 2_000;
const GIVEN = '20';
const USAGE_QUEUE = uniqueQueueName();
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let db: DataSource;
let queue: Queue;
let pg: TcpProxy;
let redis: TcpProxy;
const children: ChildProcess[] = [];

interface LogLine {
  time: number;
  msg: string;
}

/** A worker process; its JSON log lines are collected. */
function worker(databaseUrl: string, redisUrl: string): { process: ChildProcess; log: LogLine[] } {
  const child = spawn(process.execPath, ['dist/apps/worker/src/main.js'], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: databaseUrl,
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: process.env.QUEUE_PREFIX,
      SECRETS_KEY: process.env.SECRETS_KEY,
      USAGE_QUEUE,
      LOG_LEVEL: 'info',
      WORKER_LOCK_DURATION_MS: String(LOCK_MS),
      WORKER_STALLED_INTERVAL_MS: '1000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  const log: LogLine[] = [];
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop()!;
    for (const line of lines) {
      try {
        const parsed = JSON.parse(line) as { time: number; msg: unknown };
        log.push({ time: parsed.time, msg: String(parsed.msg) });
      } catch {
        // not a log line
      }
    }
  });
  return { process: child, log };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const via = (url: string, port: number) => Object.assign(new URL(url), { port: String(port) }).toString();

beforeAll(async () => {
  scratch = await scratchDatabase();
  api = await startApi({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  db = api.app.get(DataSource);
  queue = producer(USAGE_QUEUE);
  const database = new URL(scratch.url);
  const cache = new URL(process.env.REDIS_URL!);
  pg = await TcpProxy.start(Number(database.port || 5432), database.hostname);
  redis = await TcpProxy.start(Number(cache.port || 6379), cache.hostname);
}, 60_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  await pg?.close();
  await redis?.close();
  await api?.close();
  await scratch?.drop();
}, 30_000);

/**
 * The proxied worker is in the middle of a usage flush: a transaction of its own that has written
 * (locked its accounts' balance rows, or recorded events) and not committed, so it holds that
 * flush's jobs. Its other transactions (webhook leases, grant expiry, partition upkeep) write too,
 * but hold no job: the statement tells them apart.
 */
const FLUSH_STATEMENT = `(query LIKE 'SELECT account_id FROM account_balances WHERE account_id = ANY(%' OR ltrim(query, E' \\n') LIKE 'WITH input AS (%')`;
const midFlush = async () =>
  (
    await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE client_port = ANY($1) AND xact_start IS NOT NULL AND backend_xid IS NOT NULL AND ${FLUSH_STATEMENT}`,
      [pg.upstreamPorts()],
    )
  )[0].n > 0;

const billed = async (ids: string[]) => (await db.query('SELECT count(*)::int AS n FROM usage_events WHERE event_id = ANY($1)', [ids]))[0].n as number;

describe('a worker cut off from the network', () => {
  it('loses nothing and bills nothing twice: its jobs are taken over once their locks expire, and it carries on when the network is back', async () => {
    const accounts: string[] = [];
    for (let i = 0; i < 30; i++) {
      const { account_id } = await createAccount(api);
      await credit(api, account_id, GIVEN);
      accounts.push(account_id);
    }
    const workload = new Workload(accounts, `net-${randomBytes(3).toString('hex')}`);
    const cut = worker(via(scratch.url, pg.port), via(process.env.REDIS_URL!, redis.port));
    const steady = worker(scratch.url, process.env.REDIS_URL!);

    // The gateway: single jobs and batches, every 100 ms, each event sent once.
    let producing = true;
    const production = (async () => {
      while (producing) {
        const events = workload.events(60);
        await queue.addBulk([...events.slice(0, 20).map((data) => ({ name: 'usage', data })), { name: 'usage-batch', data: { events: events.slice(20) } }]);
        await sleep(100);
      }
    })();
    const commitsOf = (w: { log: LogLine[] }, after: number) => w.log.filter((l) => l.msg === 'flush committed' && l.time > after).length;
    const handedOut = (w: { log: LogLine[] }) => w.log.filter((l) => l.msg.includes('stalled (its worker died or hung)'));
    // The proxied worker competes with the other for jobs over a slow link and may win few of them
    // for a while (in some runs it commits 6 flushes in all, in others 50): its waits are long,
    // and a timeout says what it was doing.
    const untilCut = (condition: () => boolean | Promise<boolean>, what: string, timeoutMs: number, everyMs?: number) =>
      until(condition, what, timeoutMs, everyMs).catch((error: Error) => {
        throw new Error(`${error.message}; the proxied worker's last lines: ${cut.log.slice(-8).map((l) => l.msg).join(' | ')}`);
      });
    try {
      await untilCut(() => commitsOf(cut, 0) > 0 && commitsOf(steady, 0) > 0, 'both workers to bill', 45_000);

      // A slow link: every round trip of the proxied worker takes 200 ms more; it keeps billing, slowly.
      pg.delay(100);
      redis.delay(100);
      const slowFrom = Date.now();
      await untilCut(() => commitsOf(cut, slowFrom) > 0, 'the slow worker to commit a flush', 45_000);

      // Cut in the middle of a flush.
      await untilCut(midFlush, 'the proxied worker to be in the middle of a flush', 45_000, 5);
      pg.cut();
      redis.cut();
      const cutAt = Date.now();
      const beforeCut = await billed(workload.ids);
      await sleep(LOCK_MS * 2 + 1_500);
      // The other worker went on, and took over the jobs whose locks expired.
      expect(await billed(workload.ids)).toBeGreaterThan(beforeCut);
      const takenOver = () => handedOut(steady);
      await until(() => takenOver().length > 0, 'the jobs of the cut worker to be handed out again', 10_000);
      // Handed out only once their locks had expired: at least half a lock (the longest since a renewal) after the cut.
      expect(Math.min(...takenOver().map((l) => l.time))).toBeGreaterThanOrEqual(cutAt + LOCK_MS / 2 - 50);

      // Back: it reconnects by itself and bills again.
      pg.restore();
      redis.restore();
      const restoredAt = Date.now();
      await untilCut(() => commitsOf(cut, restoredAt) > 0, 'the cut worker to bill again', 45_000);
      expect(cut.log.some((l) => l.time > cutAt && l.msg.startsWith('transient database error'))).toBe(true);

      // A stall in the middle of a flush: nothing passes for longer than a lock, then everything held arrives.
      // Its jobs are handed out again, by the other worker during the stall, or by either once its
      // commands arrive (its late completion finds the lock gone and leaves them).
      pg.delay(50);
      redis.delay(50);
      await untilCut(midFlush, 'the proxied worker to be in the middle of a flush again', 45_000, 5);
      pg.delay(LOCK_MS * 2);
      redis.delay(LOCK_MS * 2);
      const stalledAt = Date.now();
      await sleep(LOCK_MS * 2 + 500);
      pg.restore();
      redis.restore();
      // Unless the flush it stalled in was one it retried for jobs it no longer held (taken over in
      // the cut above): then its late completion says so, and there was nothing left to hand out.
      const lateCompletion = () => cut.log.some((l) => l.time > stalledAt && l.msg.includes('handed out again before completion'));
      await until(() => [...takenOver(), ...handedOut(cut)].some((l) => l.time > stalledAt) || lateCompletion(), 'jobs of the stalled worker to be handed out again', 10_000);
      const backAt = Date.now();
      await untilCut(() => commitsOf(cut, backAt) > 0, 'the stalled worker to bill again', 45_000);
    } finally {
      producing = false;
      await production;
    }
    await until(async () => (await billed(workload.ids)) === workload.ids.length, `all ${workload.ids.length} events billed`, 60_000, 100);
    await drained(queue, 30_000);

    expect(await balancesOf(db, accounts)).toEqual(workload.expectedBalances(GIVEN));
    expect((await db.query('SELECT count(*)::int AS n FROM rejected_events')).at(0).n).toBe(0);
    expect(await queue.getJobCounts('failed', 'active', 'waiting', 'delayed')).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });
    // Each job handed out again was then completed, once, by whoever held it last.
    const ids = [...new Set([...handedOut(steady), ...handedOut(cut)].map((l) => /job (\S+) stalled/.exec(l.msg)![1]))];
    const states = await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.getState() ?? 'removed'));
    expect(states.filter((s) => s !== 'completed')).toEqual([]);
    const report = await api.app.get(ReconciliationService).run();
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    process.stdout.write(`network partition: ${workload.ids.length} events, ${ids.length} jobs handed out again, cut worker ${commitsOf(cut, 0)} flushes, steady worker ${commitsOf(steady, 0)}\n`);
  }, 300_000);
});
