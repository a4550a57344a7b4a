import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { DataSource } from 'typeorm';
import { GrantsService } from '../libs/db/src/index.js';
import { ADMIN, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, uniqueId, usageEvent } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';

/**
 * The worked example of docs/finance.md ("Credit liability"), on the two months before this one,
 * in a database of its own. Entries are made through the API and the worker, then moved to the
 * instant of the story, so the months are real ledger months.
 */
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;
let db: DataSource;
let grants: GrantsService;
let acme = '';
const ids: Record<string, string> = {};

const now = new Date();
const month = (back: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - back, 1));
const periodId = (d: Date) => d.toISOString().slice(0, 7);
const M1 = month(2);
const M2 = month(1);
const M3 = month(0);
const day = (m: Date, d: number) => new Date(m.getTime() + (d - 1) * 86_400_000 + 12 * 3_600_000);

let dated = 0;
/** Moves the account's entries written since the last call (and the grants they made) to `when`. */
async function backdate(when: Date): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL session_replication_role = replica');
    await tx.query('UPDATE ledger_entries SET created_at = $3 WHERE account_id = $1 AND entry_id > $2', [acme, dated, when]);
    await tx.query('UPDATE grants SET created_at = $3 WHERE account_id = $1 AND entry_id > $2', [acme, dated, when]);
    [{ dated }] = await tx.query('SELECT coalesce(max(entry_id), 0)::int AS dated FROM ledger_entries WHERE account_id = $1', [acme]);
  });
}

async function credit(name: string, body: Record<string, unknown>, when: Date): Promise<void> {
  const res = await api.http().post(`/v1/accounts/${acme}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId('idem')).send(body).expect(201);
  ids[name] = res.body.grant_id;
  await backdate(when);
}

/** Usage through the worker: 1000 requests of `prompt` uncached input tokens each ($0.04 per million), at `when`. */
async function usage(prompt: number, when: Date): Promise<void> {
  const events = Array.from({ length: 1000 }, () => usageEvent(acme, { occurred_at: when.toISOString(), usage: { prompt_tokens: prompt, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } } }));
  await queue.add('usage-batch', { events });
  await drained(queue);
  await backdate(when);
}

/** Lets a grant's expires_at come (at `when`, in the past), runs the expiry, and dates it there. */
async function expire(name: string, when: Date): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL session_replication_role = replica');
    await tx.query('UPDATE grants SET expires_at = $2 WHERE grant_id = $1', [ids[name], when]);
  });
  await grants.expireAllDue();
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL session_replication_role = replica');
    await tx.query('UPDATE grants SET ended_at = $2 WHERE grant_id = $1', [ids[name], when]);
  });
  await backdate(when);
}

const report = async (period: string) => (await api.http().get(`/v1/reports/credit-liability?period=${period}`).set(ADMIN).expect(200)).body;
const rowOf = (body: { data: { account_id: string }[] }) => body.data.find((r) => r.account_id === acme);
const inFuture = new Date(Date.now() + 86_400_000).toISOString();

beforeAll(async () => {
  scratch = await scratchDatabase();
  const USAGE_QUEUE = uniqueQueueName();
  api = await startApi({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  worker = await startWorker({ DATABASE_URL: scratch.url, USAGE_QUEUE, GRANT_EXPIRY_INTERVAL_MS: 60_000 });
  queue = producer(USAGE_QUEUE);
  db = api.app.get(DataSource);
  grants = api.app.get(GrantsService);
  acme = (await createAccount(api, { name: 'Acme' })).account_id;

  // Month 1: $20 bought, $5 of promotional credit drawn first (priority 10), $3 of usage.
  await credit('paid', { amount: '20', kind: 'purchase', reference: 'card' }, day(M1, 3));
  await credit('promo', { amount: '5', kind: 'promotional', priority: 10, expires_at: inFuture }, day(M1, 5));
  await usage(75_000, day(M1, 20)); // 1000 x $0.003
  // Month 2: $4 of usage (the promo's last $2, then $2 of the paid credit); the promo expires empty;
  // a $1 trial expires untouched; a $0.50 negative adjustment; a $10 purchase is charged back.
  await usage(100_000, day(M2, 2)); // 1000 x $0.004
  await expire('promo', day(M2, 8));
  await credit('trial', { amount: '1', kind: 'promotional', priority: 10, expires_at: inFuture }, day(M2, 10));
  await expire('trial', day(M2, 20));
  await credit('adjustment', { amount: '-0.5', kind: 'adjustment', reference: 'goodwill reversal' }, day(M2, 25));
  await credit('chargeback', { amount: '10', kind: 'purchase', reference: 'card' }, day(M2, 26));
  await api.http().post(`/v1/accounts/${acme}/grants/${ids.chargeback}/void`).set(ADMIN).expect(200);
  await backdate(day(M2, 27));
}, 60_000);

afterAll(async () => {
  await queue?.close();
  await worker?.close();
  await api?.close();
  await scratch?.drop();
});

describe('credit liability', () => {
  it('month 1: what was granted, and the free burn', async () => {
    const body = await report(periodId(M1));
    expect(body).toMatchObject({ period: periodId(M1), frozen: true, next_cursor: null });
    expect(rowOf(body)).toEqual({
      account_id: acme,
      opening: '0',
      granted_paid: '20',
      granted_free: '5',
      burned_paid: '0',
      burned_free: '3',
      adjusted_paid: '0',
      adjusted_free: '0',
      expired_paid: '0',
      expired_free: '0',
      voided: '0',
      closing: '22',
      unfunded: '0',
    });
    expect(body.totals).toEqual({ ...rowOf(body), account_id: undefined });
  });

  it('month 2 opens where month 1 closed, and its identity holds exactly', async () => {
    const body = await report(periodId(M2));
    expect(rowOf(body)).toEqual({
      account_id: acme,
      opening: '22',
      granted_paid: '10',
      granted_free: '1',
      burned_paid: '2.5',
      burned_free: '2',
      adjusted_paid: '0.5',
      adjusted_free: '0',
      expired_paid: '0',
      expired_free: '1',
      voided: '10',
      closing: '17.5',
      unfunded: '0',
    });
    const grantsNow = (await api.http().get(`/v1/accounts/${acme}/grants`).set(ADMIN).expect(200)).body.data;
    expect(Object.fromEntries(grantsNow.map((g: { grant_id: string; status: string; remaining: string }) => [g.grant_id, [g.status, g.remaining]]))).toEqual({
      [ids.paid]: ['active', '17.5'],
      [ids.promo]: ['expired', '0'],
      [ids.trial]: ['expired', '0'],
      [ids.chargeback]: ['voided', '0'],
    });
  });

  it('puts late usage in the open month and leaves the frozen months as they were', async () => {
    const before = await report(periodId(M1));
    const late = usageEvent(acme, { occurred_at: day(M1, 28).toISOString(), usage: { prompt_tokens: 10_000, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } } });
    await queue.add('usage', late);
    await drained(queue);
    expect(await report(periodId(M1))).toEqual(before);
    const open = await report(periodId(M3));
    expect(open.frozen).toBe(false);
    expect(rowOf(open)).toMatchObject({ opening: '17.5', burned_paid: '0.0004', closing: '17.4996' });
    expect((await api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body).toMatchObject({ ok: true });
  });

  it('exports one CSV row per account with the same exact figures', async () => {
    const res = await api.http().get(`/v1/exports/credit-liability.csv?period=${periodId(M2)}`).set(ADMIN).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const rows = parse(res.text, { columns: true }) as Record<string, string>[];
    expect(rows).toEqual([{ period: periodId(M2), ...rowOf(await report(periodId(M2))) }]);
    expect(res.text.split('\r\n')[0]).toBe('period,account_id,opening,granted_paid,granted_free,burned_paid,burned_free,adjusted_paid,adjusted_free,expired_paid,expired_free,voided,closing,unfunded');
  });

  it('traces every debit of a month to the grants it drew from', async () => {
    const res = await api.http().get(`/v1/exports/grant-allocations.csv?from=${M2.toISOString()}&to=${M3.toISOString()}`).set(ADMIN).expect(200);
    const rows = parse(res.text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0])).toEqual(['entry_id', 'account_id', 'created_at', 'entry_kind', 'grant_id', 'grant_credit_kind', 'paid', 'amount']);
    const sums = new Map<string, number>();
    for (const r of rows) {
      const key = `${r.entry_kind} ${r.grant_id} ${r.grant_credit_kind} ${r.paid}`;
      // Sums of whole cents here, so a float is exact enough for the test's own bookkeeping.
      sums.set(key, (sums.get(key) ?? 0) + Number(r.amount) * 100);
    }
    expect(Object.fromEntries([...sums].map(([k, v]) => [k, Math.round(v) / 100]))).toEqual({
      [`usage ${ids.promo} promotional false`]: 2,
      [`usage ${ids.paid} purchase true`]: 2,
      [`adjustment ${ids.paid} purchase true`]: 0.5,
    });
    // Month 1's usage is not in month 2's rows.
    expect(rows.every((r) => new Date(r.created_at) >= M2)).toBe(true);
  });

  it('catches a frozen month that no longer matches the ledger', async () => {
    await db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await tx.query(`UPDATE credit_liability_rows SET burned_free = burned_free + 1, closing = closing - 1 WHERE account_id = $1 AND period = $2::date`, [acme, `${periodId(M1)}-01`]);
    });
    try {
      const body = (await api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body;
      expect(body.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { name: string }) => c.name)).toEqual(['credit_liability_frozen_months']);
      expect(body.discrepancies).toEqual([expect.objectContaining({ check: 'credit_liability_frozen_months', id: `${periodId(M1)} ${acme}` })]);
    } finally {
      await db.transaction(async (tx) => {
        await tx.query('SET LOCAL session_replication_role = replica');
        await tx.query(`UPDATE credit_liability_rows SET burned_free = burned_free - 1, closing = closing + 1 WHERE account_id = $1 AND period = $2::date`, [acme, `${periodId(M1)}-01`]);
      });
    }
  });

  it('npm run liability prints the totals and writes the same CSV the API serves', async () => {
    const out = `/tmp/liability-${process.pid}.csv`;
    try {
      const result = spawnSync(process.execPath, ['dist/apps/cli/src/liability.js', '--period', periodId(M2), '--csv', out], {
        env: { PATH: process.env.PATH, DATABASE_URL: scratch.url },
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(result.status).toBe(0);
      expect(result.stdout).toContain(`credit liability ${periodId(M2)}: 1 accounts, frozen`);
      expect(result.stdout).toMatch(/burned_paid\s+2\.5\n/);
      expect(result.stdout).toContain('opening + granted - burned - expired - voided = closing: exact');
      const api_ = await api.http().get(`/v1/exports/credit-liability.csv?period=${periodId(M2)}`).set(ADMIN).expect(200);
      expect(readFileSync(out, 'utf8')).toBe(api_.text);
    } finally {
      rmSync(out, { force: true });
    }
  });

  it('puts what expired and what was voided on the month\'s invoice apart from its credits, and the chain still meets the balance', async () => {
    for (const m of [M1, M2]) await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period: periodId(m) }).expect(200);
    const invoices = (await api.http().get(`/v1/accounts/${acme}/invoices`).set(ADMIN).expect(200)).body.data;
    const of = (m: Date) => invoices.find((i: { period: string }) => i.period === periodId(m));
    // Month 1 carries its usage and the late request that arrived in month 3 for it (no month 1 invoice existed).
    expect(of(M1)).toMatchObject({ opening_balance: '0', credits_total: '25', usage_total: '3.0004', expired_total: '0', voided_total: '0', closing_balance: '21.9996' });
    // Month 2: the trial and the chargeback (11) less the adjustment (0.5); the trial's $1 expired, the chargeback's $10 voided.
    expect(of(M2)).toMatchObject({ opening_balance: '21.9996', credits_total: '10.5', usage_total: '4', expired_total: '1', voided_total: '10', closing_balance: '17.4996' });
    expect((await api.http().get(`/v1/accounts/${acme}/balance`).set(ADMIN).expect(200)).body.balance).toBe('17.4996');
    const report = (await api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body;
    expect(report.discrepancies).toEqual([]);
  });

  it('answers 422 for a malformed or future month, 400 without one', async () => {
    await api.http().get('/v1/reports/credit-liability?period=2026-13').set(ADMIN).expect(422);
    await api.http().get(`/v1/reports/credit-liability?period=${now.getUTCFullYear() + 1}-01`).set(ADMIN).expect(422);
    await api.http().get('/v1/reports/credit-liability').set(ADMIN).expect(400);
    await api.http().get('/v1/exports/credit-liability.csv?period=nope').set(ADMIN).expect(422);
  });
});
