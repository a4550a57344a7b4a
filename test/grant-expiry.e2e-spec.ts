import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { DataSource } from 'typeorm';
import { ReconciliationService } from '../libs/db/src/index.js';
import { ADMIN, startApi, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, uniqueId } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';

/**
 * Grant expiry with real worker processes (dist/): several at once, one SIGKILLed in the middle of
 * an expiry transaction, and none running when grants came due. A database of its own, so the
 * counts here are only this file's.
 */
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let db: DataSource;
const USAGE_QUEUE = uniqueQueueName();
const children: ChildProcess[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function worker(): ChildProcess {
  const child = spawn(process.execPath, ['dist/apps/worker/src/main.js'], {
    env: { PATH: process.env.PATH, DATABASE_URL: scratch.url, REDIS_URL: process.env.REDIS_URL, SECRETS_KEY: process.env.SECRETS_KEY, QUEUE_PREFIX: process.env.QUEUE_PREFIX, USAGE_QUEUE, LOG_LEVEL: 'warn', GRANT_EXPIRY_INTERVAL_MS: '100' },
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** An account with `grants` promotional grants of $1 expiring `inMs` from now, and a $0.25 adjustment drawn from the first. */
async function accountWithExpiring(grants: number, inMs: number): Promise<string> {
  const { account_id } = await createAccount(api);
  const expires_at = new Date(Date.now() + inMs).toISOString();
  for (let i = 0; i < grants; i++) {
    await api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId('idem')).send({ amount: '1', kind: 'promotional', expires_at }).expect(201);
  }
  await api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId('idem')).send({ amount: '-0.25', kind: 'adjustment' }).expect(201);
  return account_id;
}

const openGrants = async (accounts: string[]) => (await db.query('SELECT count(*)::int AS n FROM grants WHERE account_id = ANY($1) AND end_kind IS NULL', [accounts]))[0].n as number;
const expiries = async (accounts: string[]) =>
  db.query(`SELECT reference, count(*)::int AS n, sum(amount)::text AS amount FROM ledger_entries WHERE kind = 'expiry' AND account_id = ANY($1) GROUP BY reference ORDER BY reference`, [accounts]) as Promise<
    { reference: string; n: number; amount: string }[]
  >;

beforeAll(async () => {
  scratch = await scratchDatabase();
  api = await startApi({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  db = api.app.get(DataSource);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await api?.close();
  await scratch?.drop();
});

describe('grant expiry across worker processes', () => {
  it('expires every grant once with three workers racing for them', async () => {
    const accounts: string[] = [];
    for (let i = 0; i < 15; i++) accounts.push(await accountWithExpiring(4, 2_500));
    const workers = [worker(), worker(), worker()];
    await waitFor('every grant to end', async () => (await openGrants(accounts)) === 0);
    const rows = await expiries(accounts);
    // Per account: the first grant had 0.75 left, the other three 1 each.
    expect(rows).toHaveLength(60);
    expect(rows.every((r) => r.n === 1)).toBe(true);
    const total = rows.reduce((sum, r) => sum + Number(r.amount) * 100, 0);
    expect(total).toBe(-15 * 375);
    for (const account of accounts) expect((await api.http().get(`/v1/accounts/${account}/balance`).set(ADMIN).expect(200)).body.balance).toBe('0');
    for (const w of workers) w.kill('SIGTERM');
    expect((await api.app.get(ReconciliationService).run()).ok).toBe(true);
  });

  it('catches up at start on grants that came due while no worker ran', async () => {
    const account = await accountWithExpiring(2, 500);
    await sleep(1_000);
    expect(await openGrants([account])).toBe(2);
    const w = worker();
    await waitFor('the late grants to end', async () => (await openGrants([account])) === 0);
    expect((await expiries([account])).map((r) => r.amount).sort()).toEqual(['-0.750000000000000000', '-1.000000000000000000']);
    w.kill('SIGTERM');
  });

  it('never expires twice when a worker is SIGKILLed in the middle of an expiry', async () => {
    const account = await accountWithExpiring(1, 500);
    await sleep(600);
    // Hold the account's balance row: the worker's expiry claims the grant, then waits for this lock.
    const runner = db.createQueryRunner();
    await runner.connect();
    await runner.query('BEGIN');
    await runner.query('SELECT 1 FROM account_balances WHERE account_id = $1 FOR UPDATE', [account]);
    try {
      const victim = worker();
      await waitFor('the worker to wait for the lock inside its expiry', async () => {
        const rows = await db.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'billing-worker' AND wait_event_type = 'Lock' AND query LIKE '%account_balances%'`);
        return rows.length > 0;
      });
      victim.kill('SIGKILL');
      await new Promise((resolve) => victim.once('exit', resolve));
      worker();
      await sleep(500);
    } finally {
      await runner.query('COMMIT');
      await runner.release();
    }
    await waitFor('the grant to end', async () => (await openGrants([account])) === 0);
    await sleep(500);
    expect(await expiries([account])).toEqual([expect.objectContaining({ n: 1, amount: '-0.750000000000000000' })]);
    expect((await api.http().get(`/v1/accounts/${account}/balance`).set(ADMIN).expect(200)).body.balance).toBe('0');
  });
});
