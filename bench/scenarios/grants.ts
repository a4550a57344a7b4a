import pg from 'pg';
import { Money } from '@app/billing';
import { KNOBS, SIZES } from '../config.js';
import { freePort, httpRequest } from '../http.js';
import { monthBounds } from '../month-data.js';
import { type Child, startApi, startWorkers, stopAll } from '../processes.js';
import { percentile } from '../stats.js';
import { type Harness, QUIET_SHARE, startClock, type WindowNote } from './common.js';

export interface ExpiryResult {
  grants: number;
  accounts: number;
  /** From the instant every grant expires until the last one has ended. */
  lastEndedMs: number;
  /** ended_at - expires_at over every grant. */
  lagMs: { p50: number; p99: number; max: number };
  entries: number;
  removed: string;
  buildMs: number;
  window: WindowNote;
}

/**
 * (m) Grant expiry at scale: SIZES.expiryGrants grants (SIZES.expiryGrantsPerAccount per account,
 * each of $1, a quarter of the first ones drawn by a usage entry) written by SQL with consistent
 * balances, every one expiring at the same instant a few seconds after the worker process(es)
 * start; the clock runs from that instant until every grant has ended. Then checked exactly:
 * one expiry entry per grant that had something left, Σ removed = Σ what was left, every balance 0.
 */
export async function expiryScenario(h: Harness): Promise<ExpiryResult> {
  const perAccount = SIZES.expiryGrantsPerAccount;
  const accounts = Math.ceil(SIZES.expiryGrants / perAccount);
  await h.ctx.resetData(accounts);
  const client = new pg.Client({ connectionString: h.ctx.databaseUrl, application_name: 'billing-bench-expiry' });
  await client.connect();
  let workers: Child[] = [];
  try {
    const built = performance.now();
    await client.query('SET synchronous_commit = off');
    // Credits of $1 each, in entry order per account, then one usage entry of 2.5 per account.
    await client.query(
      `INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, created_at)
       SELECT a.account_id, 'credit', 'promotional', 1, g, now() - interval '1 hour'
       FROM (SELECT account_id FROM accounts ORDER BY account_id) a, generate_series(1, $1::int) g ORDER BY a.account_id, g`,
      [perAccount],
    );
    await client.query(
      `INSERT INTO ledger_entries (account_id, kind, amount, balance_after, reference, event_count, created_at)
       SELECT account_id, 'usage', -2.5, $1::int - 2.5, 'bench usage', 1, now() - interval '30 minutes' FROM accounts ORDER BY account_id`,
      [perAccount],
    );
    await client.query('UPDATE account_balances SET balance = $1::int - 2.5', [perAccount]);
    const [{ at }] = (await client.query(`SELECT date_trunc('second', now()) + interval '25 seconds' AS at`)).rows as { at: Date }[];
    await client.query(
      `INSERT INTO grants (grant_id, account_id, entry_id, credit_kind, amount, expires_at, created_at)
       SELECT 'gr_' || entry_id, account_id, entry_id, credit_kind, amount, $1, created_at FROM ledger_entries WHERE kind = 'credit' ORDER BY entry_id`,
      [at],
    );
    await client.query('VACUUM ANALYZE ledger_entries, grants, account_balances');
    await client.query('CHECKPOINT');
    const buildMs = performance.now() - built;
    const grants = accounts * perAccount;
    h.log(`(m) ${grants.toLocaleString('en-US')} grants over ${accounts.toLocaleString('en-US')} accounts written in ${(buildMs / 1000).toFixed(1)} s, all expiring at ${at.toISOString()}`);

    const queue = h.ctx.queue('bench-expiry');
    workers = await startWorkers(KNOBS.workers, h.ctx.serviceEnv(queue.name, KNOBS.logLevel), queue, KNOBS.cpuProfDir);
    const wait = at.getTime() - Date.now();
    if (wait < 2_000) throw new Error(`the workers took too long to start: the grants expire in ${wait} ms`);
    await new Promise((resolve) => setTimeout(resolve, wait - 1_500));
    const clock = await startClock(h);
    const from = performance.now() + (at.getTime() - Date.now());
    for (;;) {
      const [{ open }] = (await client.query('SELECT count(*)::int AS open FROM grants WHERE end_kind IS NULL')).rows as { open: number }[];
      if (open === 0) break;
      if (performance.now() - from > KNOBS.scenarioTimeoutMs) throw new Error(`${open} grants not expired after ${KNOBS.scenarioTimeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const { window } = clock.stop();
    const { rows } = await client.query(
      `SELECT extract(epoch FROM max(ended_at) - $1::timestamptz) * 1000 AS last_ms,
         array_agg(extract(epoch FROM ended_at - expires_at) * 1000 ORDER BY ended_at) AS lags
       FROM grants`,
      [at],
    );
    const lags = (rows[0].lags as number[]).map(Number);
    const check = (await client.query(
      `SELECT (SELECT count(*)::int FROM ledger_entries WHERE kind = 'expiry') AS entries,
         (SELECT coalesce(-sum(amount), 0)::text FROM ledger_entries WHERE kind = 'expiry') AS removed,
         (SELECT count(*)::int FROM account_balances WHERE balance <> 0) AS nonzero`,
    )).rows[0] as { entries: number; removed: string; nonzero: number };
    // Per account: 2.5 drew the first two grants and half the third; the rest expired.
    const wantEntries = accounts * (perAccount - 2);
    const wantRemoved = new Money(perAccount).sub('2.5').mul(accounts);
    if (check.entries !== wantEntries || !new Money(check.removed).eq(wantRemoved) || check.nonzero !== 0) {
      throw new Error(`expiry was not exact: ${JSON.stringify(check)}, expected ${wantEntries} entries removing ${wantRemoved.toFixed()}`);
    }
    return {
      grants,
      accounts,
      lastEndedMs: Number(rows[0].last_ms),
      lagMs: { p50: percentile(lags, 50), p99: percentile(lags, 99), max: lags.reduce((a, b) => Math.max(a, b), 0) },
      entries: check.entries,
      removed: new Money(check.removed).toFixed(),
      buildMs,
      window,
    };
  } finally {
    await stopAll(workers);
    await client.end();
  }
}

export interface LiabilityResult {
  accounts: number;
  ledgerEntries: number;
  period: string;
  /** GET /v1/reports/credit-liability (first page, every account computed), per run. */
  reportMs: number[];
  /** GET /v1/exports/credit-liability.csv, per run. */
  csvMs: number[];
  /** The same report once the month is frozen (stored rows read back). */
  frozenMs: number;
  csvRows: number;
  buildMs: number;
  disturbed: boolean;
}

/**
 * (n) The credit liability report and its CSV for SIZES.liabilityAccounts accounts with a month
 * of grants, daily usage and an expiry each, written by SQL with consistent balances; each run
 * removes the frozen month first, so every run computes it from the ledger. Checked exactly
 * against the figures the data was built from.
 */
export async function liabilityScenario(h: Harness): Promise<LiabilityResult> {
  const accounts = SIZES.liabilityAccounts;
  const period = SIZES.invoicePeriod;
  const { start } = monthBounds(period);
  await h.ctx.resetData(accounts);
  const client = new pg.Client({ connectionString: h.ctx.databaseUrl, application_name: 'billing-bench-liability' });
  await client.connect();
  let api: Child | undefined;
  try {
    const built = performance.now();
    await client.query('SET synchronous_commit = off');
    // Day 1: $10 bought, $2 promotional expiring on day 15. Days 1-28: $0.10 of usage at noon.
    // Day 15: the promotional grant's $0.60 left expires.
    await client.query(
      `INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, reference, created_at)
       SELECT account_id, 'credit', k.kind, k.amount, k.after, 'bench', $1::timestamptz + k.at
       FROM (SELECT account_id FROM accounts ORDER BY account_id) a,
         (VALUES (1, 'purchase', 10.0, 10.0, interval '0'), (2, 'promotional', 2.0, 12.0, interval '1 minute')) k(n, kind, amount, after, at)
       ORDER BY account_id, k.n`,
      [start],
    );
    await client.query(
      `INSERT INTO grants (grant_id, account_id, entry_id, credit_kind, amount, expires_at, created_at)
       SELECT 'gr_' || entry_id, account_id, entry_id, credit_kind, amount,
         CASE WHEN credit_kind = 'promotional' THEN $1::timestamptz + interval '14 days' END, created_at
       FROM ledger_entries WHERE kind = 'credit' ORDER BY entry_id`,
      [start],
    );
    await client.query(
      `WITH moves AS (
         SELECT a.account_id, d AS n, 'usage' AS kind, NULL AS credit_kind, -0.1 AS amount, NULL AS reference, $1::timestamptz + (d - 1) * interval '1 day' + interval '12 hours' AS at
         FROM accounts a, generate_series(1, 28) d
         UNION ALL
         SELECT g.account_id, 14.5, 'expiry', 'promotional', -0.6, g.grant_id, $1::timestamptz + interval '14 days'
         FROM grants g WHERE g.credit_kind = 'promotional'
       )
       INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, reference, event_count, created_at)
       SELECT account_id, kind, credit_kind, amount, 12 + sum(amount) OVER (PARTITION BY account_id ORDER BY n), reference,
         CASE WHEN kind = 'usage' THEN 1 END, at
       FROM moves ORDER BY account_id, n`,
      [start],
    );
    await client.query(
      `UPDATE grants g SET end_kind = 'expiry', ended_at = l.created_at, end_entry_id = l.entry_id
       FROM ledger_entries l WHERE l.kind = 'expiry' AND l.reference = g.grant_id`,
    );
    await client.query(`UPDATE account_balances b SET balance = 8.6`);
    await client.query('VACUUM ANALYZE ledger_entries, grants, account_balances');
    await client.query('CHECKPOINT');
    const buildMs = performance.now() - built;
    const [{ n: ledgerEntries }] = (await client.query('SELECT count(*)::int AS n FROM ledger_entries')).rows as { n: number }[];
    h.log(`(n) ${accounts.toLocaleString('en-US')} accounts, ${ledgerEntries.toLocaleString('en-US')} ledger entries in ${period}, written in ${(buildMs / 1000).toFixed(1)} s`);

    const port = await freePort();
    api = await startApi(h.ctx.serviceEnv('bench-liability', KNOBS.logLevel), port, KNOBS.cpuProfDir);
    const auth = { authorization: `Bearer ${h.ctx.adminKey}` };
    const get = async (path: string) => {
      const response = await httpRequest({ port, method: 'GET', path, headers: auth });
      if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}: ${response.body.slice(0, 300)}`);
      return response.body;
    };
    const unfreeze = () => client.query('TRUNCATE credit_liability_rows, credit_liability_months');
    const n = new Money(accounts);
    const want = { opening: '0', granted_paid: n.mul(10), granted_free: n.mul(2), burned_paid: n.mul('1.4'), burned_free: n.mul('1.4'), expired_free: n.mul('0.6'), voided: '0', closing: n.mul('8.6'), unfunded: '0' };
    await get(`/v1/reports/credit-liability?period=2000-01`); // warm-up: an empty month, not timed
    const reportMs: number[] = [];
    const csvMs: number[] = [];
    let disturbed = false;
    let csvRows = 0;
    for (let rep = 1; rep <= KNOBS.reps; rep++) {
      await unfreeze();
      let clock = await startClock(h);
      const body = JSON.parse(await get(`/v1/reports/credit-liability?period=${period}&limit=1000`)) as { totals: Record<string, string>; data: unknown[] };
      let stopped = clock.stop();
      reportMs.push(stopped.ms);
      disturbed ||= !stopped.window.quiet || stopped.window.interference.share >= QUIET_SHARE;
      for (const [figure, value] of Object.entries(want)) {
        if (!new Money(body.totals[figure]).eq(value)) throw new Error(`liability total ${figure} is ${body.totals[figure]}, expected ${new Money(value).toFixed()}`);
      }
      await unfreeze();
      clock = await startClock(h);
      const csv = await get(`/v1/exports/credit-liability.csv?period=${period}`);
      stopped = clock.stop();
      csvMs.push(stopped.ms);
      disturbed ||= !stopped.window.quiet || stopped.window.interference.share >= QUIET_SHARE;
      csvRows = csv.split('\r\n').filter(Boolean).length - 1;
      if (csvRows !== accounts) throw new Error(`the liability CSV has ${csvRows} rows, expected ${accounts}`);
      h.log(`(n) run ${rep}: report ${(reportMs.at(-1)! / 1000).toFixed(2)} s, CSV ${(csvMs.at(-1)! / 1000).toFixed(2)} s`);
    }
    const frozenStart = performance.now();
    await get(`/v1/reports/credit-liability?period=${period}&limit=1000`);
    return { accounts, ledgerEntries, period, reportMs, csvMs, frozenMs: performance.now() - frozenStart, csvRows, buildMs, disturbed };
  } finally {
    await api?.stop();
    await client.end();
  }
}
