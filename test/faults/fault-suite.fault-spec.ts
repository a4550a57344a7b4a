import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { type ChildProcess, execSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { Money, formatMoney, newWebhookSecret, sealSecret, secretsKeyFrom } from '../../libs/billing/src/index.js';
import { dropDatabase, migrate } from '../../libs/db/src/index.js';
import { redisConnection } from '../../libs/queue/src/index.js';
import { WORKER_CONCURRENCY, WORKER_NAME } from '../../apps/worker/src/processors/usage.processor.js';
import { until } from '../support/until.js';
import { balancesOf, Workload } from '../support/workload.js';
import { WebhookReceiver } from '../../bench/webhook-receiver.js';

/**
 * The fault suite (npm run test:faults): real worker processes from dist/, killed with SIGKILL and
 * restarted, two of them on one queue, every batch delivered twice (a quarter of them as
 * single-event jobs, which the workers take in bulk), Postgres restarted once
 * mid-run, then Redis restarted under a running API and worker, then a smaller pass with
 * WORKER_BULK_TAKE=off (BullMQ's Worker alone). A webhook receiver takes every balance.low and
 * credits.expired of the first pass. It restarts this machine's Postgres and Redis, so it runs
 * alone, after the other suites.
 */

const EVENTS = 100_000;
const BATCH = 500;
const ACCOUNTS = 200;
const KILLS = 5;
/** The pass with WORKER_BULK_TAKE=off: smaller, on a queue of its own (so its completed jobs are its own). */
const OFF = { events: 3_000, batch: 250, accounts: 40, kills: 2, queue: 'usage-events-bulk-take-off' };
const run = randomBytes(3).toString('hex');
const url = new URL(process.env.DATABASE_URL!);
url.pathname = `/billing_faults_${run}`;
const DATABASE_URL = url.toString();
const QUEUE_PREFIX = `billing-faults-${run}`;
const USAGE_QUEUE = 'usage-events';
const REDIS_URL = process.env.REDIS_URL!;
const logFile = `/tmp/billing-faults-${run}.log`;
const log = createWriteStream(logFile);
const env = {
  PATH: process.env.PATH,
  DATABASE_URL,
  REDIS_URL,
  QUEUE_PREFIX,
  USAGE_QUEUE,
  LOG_LEVEL: 'warn',
  ADMIN_API_KEY: 'fault-suite-admin-key-0123',
  SECRETS_KEY: randomBytes(32).toString('base64'),
  // A killed worker's jobs come back after 3 s instead of 30.
  WORKER_LOCK_DURATION_MS: '3000',
  WORKER_STALLED_INTERVAL_MS: '2000',
  // Grants come due throughout the run: look for them often.
  GRANT_EXPIRY_INTERVAL_MS: '300',
  // A killed worker's webhook streams come back after 2 x 2 s + 5 s.
  WEBHOOK_TIMEOUT_MS: '2000',
};
const figures = { offEvents: 0, offJobs: 0, offStalled: 0, events: EVENTS, jobs: 0, kills: 0, workerStarts: 0, postgresRestarts: 0, redisRestarts: 0, seconds: 0, retries: 0, stalled: 0, grants: 0, expiries: 0, expiryFailures: 0, webhooks: 0, webhookTries: 0 };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const cluster = () => execSync('ls /etc/postgresql').toString().trim().split('\n')[0];

function start(script: string, extra: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, [script], { env: { ...env, ...extra }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  return child;
}

function startWorker(extra: Record<string, string> = {}): ChildProcess {
  figures.workerStarts++;
  return start('dist/apps/worker/src/main.js', extra);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Down for two seconds, so flushes in flight fail and the next ones find no server. */
async function restartPostgres(): Promise<void> {
  execSync(`pg_ctlcluster --skip-systemctl-redirect ${cluster()} main stop -m fast`, { stdio: 'ignore' });
  await sleep(2_000);
  execSync(`pg_ctlcluster --skip-systemctl-redirect ${cluster()} main start`, { stdio: 'ignore' });
  figures.postgresRestarts++;
}

function restartRedis(): void {
  execSync('redis-cli -h 127.0.0.1 -p 6379 shutdown nosave || true', { stdio: 'ignore' });
  execSync('redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no', { stdio: 'ignore' });
  figures.redisRestarts++;
}

/** An event's cost by the launch prices, computed here, independently of the service. */
const cost = (uncached: number, cached: number, output: number) =>
  new Money(uncached).mul('0.04').add(new Money(cached).mul('0.02')).add(new Money(output).mul('0.07')).div(1_000_000);

/** Accounts of the given names, each given the grants of grantRows ([amount, priority, expires_at, how many]); answers the total given to each. */
async function seedAccounts(accounts: string[], grantRows: [string, number, string | null, number][]): Promise<Money> {
  await db.query(
    `WITH a AS (INSERT INTO accounts (account_id, name) SELECT id, 'Fault ' || id FROM unnest($1::text[]) id RETURNING account_id)
     INSERT INTO account_balances (account_id, balance) SELECT account_id, 0 FROM a`,
    [accounts],
  );
  const specs = grantRows.flatMap(([amount, priority, expires, count]) => Array.from({ length: count }, () => ({ amount, priority, expires })));
  await db.query(
    `WITH spec AS (
       SELECT n, amount, priority, expires FROM unnest($2::numeric[], $3::int[], $4::timestamptz[]) WITH ORDINALITY AS s(amount, priority, expires, n)
     ), entries AS (
       INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, reference)
       SELECT a, 'credit', CASE WHEN s.priority = 50 THEN 'purchase' ELSE 'promotional' END, s.amount,
         sum(s.amount) OVER (PARTITION BY a ORDER BY s.n), 'n' || s.n
       FROM unnest($1::text[]) a, spec s ORDER BY a, s.n
       RETURNING entry_id, account_id, credit_kind, amount, reference, created_at
     )
     INSERT INTO grants (grant_id, account_id, entry_id, credit_kind, amount, priority, expires_at, created_at)
     SELECT 'gr_' || e.entry_id, e.account_id, e.entry_id, e.credit_kind, e.amount, s.priority, s.expires, e.created_at
     FROM entries e JOIN spec s ON e.reference = 'n' || s.n`,
    [accounts, specs.map((g) => g.amount), specs.map((g) => g.priority), specs.map((g) => g.expires)],
  );
  const granted = specs.reduce((sum, g) => sum.add(g.amount), new Money(0));
  await db.query('UPDATE account_balances SET balance = $2 WHERE account_id = ANY($1)', [accounts, granted.toFixed()]);
  figures.grants += specs.length * accounts.length;
  return granted;
}

/** npm run reconcile over the whole database: its output and exit code. */
async function reconcile(): Promise<{ out: string; code: number | null }> {
  const child = spawn(process.execPath, ['dist/apps/cli/src/reconcile.js'], { env });
  let out = '';
  child.stdout.on('data', (chunk) => (out += chunk));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { out, code };
}

/** Adds jobs until Redis takes them, as a gateway does. */
async function addUntilTaken(target: Queue, jobs: { name: string; data: unknown }[]): Promise<void> {
  for (;;) {
    try {
      await target.addBulk(jobs);
      return;
    } catch {
      await sleep(200);
    }
  }
}

let db: DataSource;
let queue: Queue;
let receiver: WebhookReceiver;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  await migrate(DATABASE_URL);
  db = await new DataSource({ type: 'postgres', url: DATABASE_URL, extra: { max: 2 } }).initialize();
  queue = new Queue(USAGE_QUEUE, { connection: redisConnection(REDIS_URL), prefix: QUEUE_PREFIX });
  queue.on('error', () => undefined);
}, 60_000);

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await receiver?.stop();
  await queue?.obliterate({ force: true }).catch(() => undefined);
  // The workers' metrics hash lives beside the queue's keys.
  const redis = new Redis(REDIS_URL);
  const leftovers = await redis.keys(`${QUEUE_PREFIX}:*`).catch(() => [] as string[]);
  if (leftovers.length) await redis.del(...leftovers).catch(() => undefined);
  redis.disconnect();
  await queue?.close().catch(() => undefined);
  await db?.destroy().catch(() => undefined);
  await dropDatabase(DATABASE_URL).catch(() => undefined);
  process.stdout.write(
    `faults: ${figures.events} events in ${figures.jobs} jobs (every event twice, a quarter in single-event jobs), ${figures.kills} SIGKILLs, ${figures.workerStarts} worker starts, ` +
      `${figures.postgresRestarts} Postgres restart (2 s down), ${figures.redisRestarts} Redis restart, ${figures.stalled} stalled jobs handed out again, ` +
      `${figures.retries} flush retries, ${figures.grants} grants (${figures.expiries} expiry entries, ${figures.expiryFailures} expiry runs failed and retried), ` +
      `${figures.webhooks} webhooks delivered in ${figures.webhookTries} requests, ${figures.seconds.toFixed(1)} s; ` +
      `with WORKER_BULK_TAKE=off: ${figures.offEvents} events in ${figures.offJobs} jobs, ${figures.offStalled} stalled jobs handed out again; log ${logFile}\n`,
  );
  log.end();
}, 60_000);

describe('fault suite', () => {
  it('bills 100k events exactly once and expires every grant once through worker kills, duplicate deliveries and a Postgres restart', async () => {
    const accounts = Array.from({ length: ACCOUNTS }, (_, i) => `fault-${run}-${i}`);
    // Grants per account: $5 bought, never expiring; promotional grants drawn first (priority 10):
    // $0.50 already due when the workers start (they catch up), 5 x $0.20 all due at one instant
    // during the run (Postgres is restarted while they expire), $0.50 due near the end.
    const [{ t0 }] = await db.query('SELECT now() AS t0');
    const restartAt = new Date(new Date(t0).getTime() + 7_000);
    const granted = await seedAccounts(accounts, [
      ['5', 50, null, 1],
      ['0.5', 10, new Date(new Date(t0).getTime() + 800).toISOString(), 1],
      ['0.2', 10, restartAt.toISOString(), 5],
      ['0.5', 10, new Date(new Date(t0).getTime() + 13_000).toISOString(), 1],
    ]);
    // Every balance only falls from 7.00 (the first expiry takes it to 6.50): each account crosses 6.90 once.
    await db.query('UPDATE account_balances SET low_balance_threshold = 6.9 WHERE account_id = ANY($1)', [accounts]);
    receiver = await new WebhookReceiver().start();
    const secret = newWebhookSecret();
    const endpointId = `we_${randomBytes(8).toString('hex')}`;
    await db.query('INSERT INTO webhook_endpoints (endpoint_id, url, events, secret_sealed) VALUES ($1, $2, $3, $4)', [
      endpointId,
      receiver.url(),
      ['balance.low', 'credits.expired'],
      sealSecret(secretsKeyFrom(env.SECRETS_KEY), secret, endpointId),
    ]);
    receiver.trust(secret);
    await sleep(1_000); // the first promotional grants come due before any worker runs
    const expected = new Map(accounts.map((a) => [a, new Money(0)]));
    let seed = 7;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const now = Date.now();
    const batches: unknown[][] = [];
    for (let b = 0; b < EVENTS / BATCH; b++) {
      const events = Array.from({ length: BATCH }, (_, i) => {
        const account = accounts[random(ACCOUNTS)];
        const prompt = random(20_000);
        const cached = random(prompt + 1);
        const output = random(4_000);
        expected.set(account, expected.get(account)!.sub(cost(prompt - cached, cached, output)));
        return {
          event_id: `f-${run}-${b}-${i}`,
          account_id: account,
          model: 'qwen3-5-4b',
          endpoint: '/v1/chat/completions',
          occurred_at: new Date(now - random(86_400_000)).toISOString(),
          usage: { prompt_tokens: prompt, completion_tokens: output, prompt_tokens_details: { cached_tokens: cached } },
        };
      });
      batches.push(events);
    }

    const started = performance.now();
    workers.push(startWorker(), startWorker());
    // Trickle the batches in over ~15 s, each one twice, while the chaos below runs. Every fourth
    // batch goes as single-event usage jobs (taken in bulk by the workers), each event twice.
    const producing = (async () => {
      for (let b = 0; b < batches.length; b += 10) {
        const chunk = batches.slice(b, b + 10).flatMap((events, i) =>
          (b + i) % 4 === 3
            ? [...events, ...[...events].reverse()].map((data) => ({ name: 'usage', data }))
            : [
                { name: 'usage-batch', data: { events } },
                { name: 'usage-batch', data: { events: [...events].reverse() } },
              ],
        );
        await addUntilTaken(queue, chunk);
        figures.jobs += chunk.length;
        await sleep(700);
      }
    })();
    const chaos = (async () => {
      for (let k = 0; k < KILLS; k++) {
        await sleep(2_000);
        if (k === 2) {
          // While the workers expire the thousand grants that come due at restartAt, and before
          // this round's kill, so both workers are up and flushing (a worker still starting only
          // waits for Postgres, and the retry path would go unexercised).
          await sleep(Math.max(0, restartAt.getTime() + 40 - Date.now()));
          await restartPostgres();
        }
        const victim = workers.splice(k % workers.length, 1)[0];
        victim.kill('SIGKILL');
        figures.kills++;
        await sleep(300);
        workers.push(startWorker());
      }
    })();
    await Promise.all([producing, chaos]);

    await waitFor(
      'every event priced and the queue empty',
      async () => {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
        if (Object.values(counts).some((n) => n > 0)) return false;
        const [{ n }] = await db.query("SELECT count(*)::int AS n FROM usage_events WHERE event_id LIKE $1", [`f-${run}-%`]);
        return n === EVENTS;
      },
      180_000,
    );
    figures.seconds = (performance.now() - started) / 1000;

    // Every grant comes due by now: each one has ended exactly once.
    await waitFor(
      'every promotional grant to expire',
      async () => (await db.query("SELECT count(*)::int AS n FROM grants WHERE account_id = ANY($1) AND expires_at IS NOT NULL AND end_kind IS NULL", [accounts]))[0].n === 0,
      60_000,
    );
    const twice = await db.query("SELECT reference FROM ledger_entries WHERE kind = 'expiry' AND account_id = ANY($1) GROUP BY reference HAVING count(*) > 1", [accounts]);
    expect(twice).toEqual([]);

    // Exact, against the model computed here: what was granted, less the usage the model priced,
    // less what the expiries removed (reconciliation below proves each removed what its grant had left).
    const removed = new Map<string, Money>(
      (await db.query("SELECT account_id, sum(amount)::text AS removed, count(*)::int AS n FROM ledger_entries WHERE kind = 'expiry' AND account_id = ANY($1) GROUP BY 1", [accounts])).map(
        (r: { account_id: string; removed: string; n: number }) => {
          figures.expiries += r.n;
          return [r.account_id, new Money(r.removed)];
        },
      ),
    );
    const rows: { account_id: string; balance: string }[] = await db.query('SELECT account_id, balance::text FROM account_balances WHERE account_id = ANY($1)', [accounts]);
    const wrong = rows.filter((r) => formatMoney(new Money(r.balance)) !== formatMoney(granted.add(expected.get(r.account_id)!).add(removed.get(r.account_id) ?? 0)));
    expect(wrong).toEqual([]);
    expect(rows).toHaveLength(ACCOUNTS);
    expect(figures.expiries).toBeGreaterThan(ACCOUNTS);
    const [{ rejected }] = await db.query('SELECT count(*)::int AS rejected FROM rejected_events');
    expect(rejected).toBe(0);

    // No job failed, stuck or active.
    expect(await queue.getJobCounts('failed', 'active', 'waiting', 'delayed')).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });

    // The faults landed mid-work: killed workers' jobs came back, and flushes met the database down.
    await sleep(500);
    const workerLog = readFileSync(logFile, 'utf8');
    figures.stalled = workerLog.split('stalled (its worker died or hung)').length - 1;
    figures.retries = workerLog.split('transient database error').length - 1;
    figures.expiryFailures = workerLog.split('grant expiry failed').length - 1;
    expect(figures.stalled).toBeGreaterThan(0);
    expect(figures.retries).toBeGreaterThan(0);

    // Webhooks: one balance.low per account and one credits.expired per expiry entry, each delivered
    // and verified under one webhook-id, none doubled, through the kills and the Postgres restart.
    const expired: string[] = (await db.query("SELECT reference FROM ledger_entries WHERE kind = 'expiry' AND account_id = ANY($1)", [accounts])).map((r: { reference: string }) => r.reference).sort();
    await waitFor('every webhook delivered', async () => receiver.delivered().length >= ACCOUNTS + expired.length, 120_000);
    await sleep(2_000);
    const delivered = receiver.delivered();
    figures.webhooks = delivered.length;
    figures.webhookTries = receiver.requests.length;
    expect(receiver.requests.filter((r) => !r.verified)).toEqual([]);
    expect(delivered.filter((m) => m.type === 'balance.low').map((m) => m.data.account_id).sort()).toEqual([...accounts].sort());
    expect(delivered.filter((m) => m.type === 'credits.expired').map((m) => m.data.grant_id).sort()).toEqual(expired);
    expect(delivered).toHaveLength(ACCOUNTS + expired.length);

    // The books reconcile.
    const { out, code } = await reconcile();
    expect(out).toContain('reconciliation ok');
    expect(code).toBe(0);
  }, 300_000);

  it('keeps working through a Redis restart: the API and the worker reconnect on their own', async () => {
    const api = start('dist/apps/api/src/main.js', { PORT: '3917' });
    try {
      await waitFor('the API', async () => (await fetch('http://127.0.0.1:3917/health')).status === 200, 30_000);
      restartRedis();
      await waitFor('Redis', async () => execSync('redis-cli -h 127.0.0.1 -p 6379 ping').toString().trim() === 'PONG', 30_000);
      await waitFor('the API to see Redis again', async () => (await fetch('http://127.0.0.1:3917/health')).status === 200, 30_000);
      // Without persistence the restart lost whatever was queued; what is sent now is billed.
      const event = {
        event_id: `f-${run}-after-redis`,
        account_id: `fault-${run}-0`,
        model: 'qwen3-5-4b',
        endpoint: '/v1/chat/completions',
        occurred_at: new Date().toISOString(),
        usage: { prompt_tokens: 10, completion_tokens: 1 },
      };
      await waitFor(
        'the ingest route to take the event',
        async () =>
          (
            await fetch('http://127.0.0.1:3917/v1/usage-events', {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${env.ADMIN_API_KEY}` },
              body: JSON.stringify({ events: [event] }),
            })
          ).status === 202,
        30_000,
      );
      await waitFor('the worker to price it', async () => (await db.query('SELECT 1 FROM usage_events WHERE event_id = $1', [event.event_id])).length === 1, 60_000);
      expect(await queue.getJobCounts('failed')).toEqual({ failed: 0 });
    } finally {
      api.kill('SIGTERM');
    }
  }, 180_000);

  it("with WORKER_BULK_TAKE=off, bills a smaller pass exactly through worker kills and a Postgres restart, with BullMQ's Worker alone", async () => {
    const accounts = Array.from({ length: OFF.accounts }, (_, i) => `fault-${run}-off-${i}`);
    const granted = await seedAccounts(accounts, [['5', 50, null, 1]]);
    const workload = new Workload(accounts, `off-${run}`, 11);
    const offQueue = new Queue(OFF.queue, { connection: redisConnection(REDIS_URL), prefix: QUEUE_PREFIX });
    offQueue.on('error', () => undefined);
    const extra = { USAGE_QUEUE: OFF.queue, WORKER_BULK_TAKE: 'off' };
    const logBefore = readFileSync(logFile, 'utf8').length;
    const pass = [startWorker(extra), startWorker(extra)];
    try {
      // Half the events as single-event jobs, half in batches; every event delivered twice.
      const chunks = Array.from({ length: OFF.events / OFF.batch }, (_, b) => {
        const events = workload.events(OFF.batch);
        return b % 2 === 0
          ? [...events, ...[...events].reverse()].map((data) => ({ name: 'usage', data }))
          : [{ name: 'usage-batch', data: { events } }, { name: 'usage-batch', data: { events: [...events].reverse() } }];
      });
      const producing = (async () => {
        for (const chunk of chunks) {
          await addUntilTaken(offQueue, chunk);
          figures.offJobs += chunk.length;
          await sleep(400);
        }
      })();
      const chaos = (async () => {
        for (let k = 0; k < OFF.kills; k++) {
          await sleep(1_500);
          // The first kill waits until more than WORKER_CONCURRENCY jobs are active. Each BullMQ
          // Worker holds at most that many, and no dead worker's jobs are among them yet, so both
          // workers hold some: the kill lands on jobs in flight, which BullMQ must hand out again.
          // At a random moment it could find its worker idle between two chunks, and prove nothing.
          if (k === 0) {
            await until(async () => (await offQueue.getJobCounts('active')).active > WORKER_CONCURRENCY, `more than ${WORKER_CONCURRENCY} jobs active at once`, 30_000, 5);
          }
          pass.shift()!.kill('SIGKILL');
          figures.kills++;
          if (k === 0) await restartPostgres();
          await sleep(300);
          pass.push(startWorker(extra));
        }
      })();
      await Promise.all([producing, chaos]);
      await waitFor(
        'every event of the pass priced and its queue empty',
        async () => {
          const counts = await offQueue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
          if (Object.values(counts).some((n) => n > 0)) return false;
          const [{ n }] = await db.query('SELECT count(*)::int AS n FROM usage_events WHERE event_id = ANY($1)', [workload.ids]);
          return n === OFF.events;
        },
        120_000,
      );
      figures.offEvents = workload.ids.length;

      expect(await balancesOf(db, accounts)).toEqual(workload.expectedBalances(granted));
      expect((await db.query('SELECT count(*)::int AS n FROM rejected_events WHERE event_id = ANY($1)', [workload.ids]))[0].n).toBe(0);
      expect(await offQueue.getJobCounts('failed', 'active', 'waiting', 'delayed')).toEqual({ failed: 0, active: 0, waiting: 0, delayed: 0 });
      // Every job was completed by BullMQ's Worker (it marks each job it takes; the bulk taker marks none).
      const completed = await offQueue.getCompleted(0, -1);
      expect(completed).toHaveLength(figures.offJobs);
      expect(completed.filter((job) => job.processedBy !== WORKER_NAME).map((job) => job.id)).toEqual([]);
      // The kills landed on jobs in flight: BullMQ handed them out again.
      await sleep(500);
      figures.offStalled = readFileSync(logFile, 'utf8').slice(logBefore).split('stalled (its worker died or hung)').length - 1;
      expect(figures.offStalled).toBeGreaterThan(0);
      const { out, code } = await reconcile();
      expect(out).toContain('reconciliation ok');
      expect(code).toBe(0);
    } finally {
      for (const w of pass) w.kill('SIGKILL');
      await offQueue.obliterate({ force: true }).catch(() => undefined);
      await offQueue.close().catch(() => undefined);
    }
  }, 240_000);
});
