import pg from 'pg';
import { ENDPOINT, PRICES, SIZES } from './config.js';
import type { BenchContext } from './context.js';

/** What buildMonth() put in the database. */
export interface MonthData {
  period: string;
  events: number;
  accounts: number;
  rollups: number;
  ledgerEntries: number;
  /** Σ usage_events.cost of the month, exact (trim_scale'd numeric text). */
  usageCost: string;
  /** Σ credits of the month and Σ balances afterwards, exact. */
  credits: string;
  balances: string;
  /** usage_events, with its indexes. */
  eventsTableMB: number;
  buildMs: number;
}

/** First instant of the month `period` (YYYY-MM) and of the next one, UTC. */
export function monthBounds(period: string): { start: Date; end: Date } {
  const match = /^(\d{4})-(\d{2})$/.exec(period);
  if (!match) throw new Error(`period must be YYYY-MM, got ${period}`);
  const [year, month] = [Number(match[1]), Number(match[2])];
  return { start: new Date(Date.UTC(year, month - 1, 1)), end: new Date(Date.UTC(year, month, 1)) };
}

/**
 * A past month of billed usage written straight with SQL (not through the worker), for the
 * invoice and export scenarios. From resetData()'s state (accounts at balance 0, empty tables):
 *
 * - `events` usage events of qwen3-5-4b (rate card PRICES.rateCardVersion), each on an account
 *   and at an instant (ms) of the month drawn uniformly at random (Postgres random(), fixed seed),
 *   50-8000 prompt tokens (half with a cache hit), 1-2000 completion tokens, priced exactly
 *   with the rate card's prices from the database; inserted in occurred_at order (as they arrive);
 * - per account two credits in the month (a purchase on day 2, a promotional credit on day 16)
 *   and one usage ledger entry carrying all its events (the events point at it);
 * - usage_rollups aggregated from those usage_events in one INSERT ... SELECT ... GROUP BY on the
 *   worker's rollup key (account, UTC hour, model, rate card version);
 * - account_balances = Σ ledger, last_usage_at = the account's last event;
 *
 * then VACUUM ANALYZE and CHECKPOINT. The events are generated once into a temporary table, so
 * the usage ledger entries (which the events reference) can be written first.
 */
export async function buildMonth(ctx: BenchContext, opts: { period: string; events: number; seed: number }): Promise<MonthData> {
  const started = performance.now();
  const { start, end } = monthBounds(opts.period);
  const accounts = SIZES.accounts;
  const prefix = `m-${ctx.run}-${opts.events}-`;
  const client = new pg.Client({ connectionString: ctx.databaseUrl, application_name: 'billing-bench-month' });
  await client.connect();
  try {
    // This session only: the bench's own bulk load, not the service's settings.
    await client.query(`SET work_mem = '256MB'`);
    await client.query('SET synchronous_commit = off');
    await client.query(`SET timezone = 'UTC'`);
    await client.query(
      `CREATE TEMP TABLE bench_month (i integer NOT NULL, account_id text NOT NULL, occurred_at timestamptz NOT NULL,
         input integer NOT NULL, cached integer NOT NULL, output integer NOT NULL, cost numeric(38,18) NOT NULL)`,
    );
    await client.query('SELECT setseed($1)', [(opts.seed % 1000) / 1000]);
    // OFFSET 0 keeps each subquery a subquery: every random() is drawn once per row.
    await client.query(
      `INSERT INTO bench_month (i, account_id, occurred_at, input, cached, output, cost)
       SELECT g.i, g.account_id, g.occurred_at, g.p - g.k, g.k, g.c,
         ((g.p - g.k) * r.input_per_million + g.k * r.cached_input_per_million + g.c * r.output_per_million) * 0.000001
       FROM (
         SELECT i, account_id, occurred_at, p, CASE WHEN hit < 0.5 THEN 0 ELSE floor(rk * (p + 1))::int END AS k, c
         FROM (
           SELECT i,
             'bench-' || lpad(floor(random() * $1)::int::text, 5, '0') AS account_id,
             $2::timestamptz + floor(random() * $3) * interval '1 millisecond' AS occurred_at,
             50 + floor(random() * 7951)::int AS p, random() AS hit, random() AS rk, 1 + floor(random() * 2000)::int AS c
           FROM generate_series(1, $4::int) i
           OFFSET 0
         ) raw
         OFFSET 0
       ) g, rate_card_prices r
       WHERE r.version = $5 AND r.model_id = $6`,
      [accounts, start, end.getTime() - start.getTime(), opts.events, PRICES.rateCardVersion, PRICES.model],
    );
    // Two credits per account in the month, in account order (entry ids follow).
    await client.query(
      `INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, reference, idempotency_key, created_at)
       SELECT a.account_id, 'credit', c.credit_kind, c.amount, c.balance_after, c.reference, c.reference || ':' || a.account_id, c.at
       FROM (SELECT account_id, (row_number() OVER (ORDER BY account_id) - 1)::int AS n FROM accounts) a
       CROSS JOIN LATERAL (VALUES
         (1, 'purchase', (20 + (a.n % 7) * 5)::numeric, (20 + (a.n % 7) * 5)::numeric, 'bench purchase',
           $1::timestamptz + interval '1 day' + a.n * interval '1 second'),
         (2, 'promotional', 10.5::numeric, (20 + (a.n % 7) * 5 + 10.5)::numeric, 'bench promotion',
           $1::timestamptz + interval '15 days' + a.n * interval '1 second')
       ) c(ord, credit_kind, amount, balance_after, reference, at)
       ORDER BY a.n, c.ord`,
      [start],
    );
    // One usage ledger entry per account with events, carrying all of them, at the month's last second.
    await client.query(
      `INSERT INTO ledger_entries (account_id, kind, amount, balance_after, reference, event_count, created_at)
       SELECT m.account_id, 'usage', -m.total, c.credits - m.total, 'bench month usage', m.events, $1::timestamptz - interval '1 second'
       FROM (SELECT account_id, sum(cost) AS total, count(*)::int AS events FROM bench_month GROUP BY 1) m
       JOIN (SELECT account_id, sum(amount) AS credits FROM ledger_entries WHERE kind <> 'usage' GROUP BY 1) c USING (account_id)
       ORDER BY m.account_id`,
      [end],
    );
    await client.query(
      `INSERT INTO usage_event_ids (event_id, occurred_at, content_hash)
       SELECT $1::text || e.i, e.occurred_at, md5($1::text || e.i) || md5(e.i || $1::text) FROM bench_month e ORDER BY e.occurred_at`,
      [prefix],
    );
    await client.query(
      `INSERT INTO usage_events (event_id, account_id, model_id, endpoint, occurred_at, rate_card_version, input_tokens,
         cached_input_tokens, output_tokens, cache_reported, cost, usage, metadata, ledger_entry_id, received_at)
       SELECT $1::text || e.i, e.account_id, $2::text, $3::text, e.occurred_at, $4::int, e.input, e.cached, e.output, true, e.cost,
         json_build_object('prompt_tokens', e.input + e.cached, 'completion_tokens', e.output,
           'prompt_tokens_details', json_build_object('cached_tokens', e.cached)),
         NULL, l.entry_id, e.occurred_at + interval '2 seconds'
       FROM bench_month e JOIN ledger_entries l ON l.account_id = e.account_id AND l.kind = 'usage'
       ORDER BY e.occurred_at`,
      [prefix, PRICES.model, ENDPOINT, PRICES.rateCardVersion],
    );
    await client.query(
      `INSERT INTO usage_rollups (account_id, hour, model_id, rate_card_version, requests, input_tokens, cached_input_tokens, output_tokens, cost)
       SELECT account_id, date_trunc('hour', occurred_at, 'UTC'), model_id, rate_card_version,
         count(*), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(cost)
       FROM usage_events WHERE occurred_at >= $1 AND occurred_at < $2
       GROUP BY 1, 2, 3, 4`,
      [start, end],
    );
    await client.query(
      `INSERT INTO usage_rollups_monthly (account_id, month, model_id, rate_card_version, requests, input_tokens, cached_input_tokens, output_tokens, cost)
       SELECT account_id, (date_trunc('month', hour, 'UTC') AT TIME ZONE 'UTC')::date, model_id, rate_card_version,
         sum(requests), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(cost)
       FROM usage_rollups WHERE hour >= $1 AND hour < $2
       GROUP BY 1, 2, 3, 4`,
      [start, end],
    );
    await client.query(
      `UPDATE account_balances b SET balance = s.balance, last_usage_at = u.last, updated_at = now()
       FROM (SELECT account_id, sum(amount) AS balance FROM ledger_entries GROUP BY 1) s
       LEFT JOIN (SELECT account_id, max(occurred_at) AS last FROM bench_month GROUP BY 1) u USING (account_id)
       WHERE b.account_id = s.account_id`,
    );
    await client.query('DROP TABLE bench_month');
    await client.query('VACUUM ANALYZE usage_events, usage_event_ids, usage_rollups, usage_rollups_monthly, ledger_entries, account_balances, invoices, invoice_lines');
    await client.query('CHECKPOINT');

    const { rows } = await client.query(
      `SELECT (SELECT count(*)::int FROM usage_events) AS events,
         (SELECT count(*)::int FROM usage_rollups) AS rollups,
         (SELECT count(*)::int FROM ledger_entries) AS ledger_entries,
         (SELECT trim_scale(coalesce(sum(cost), 0))::text FROM usage_events WHERE occurred_at >= $1 AND occurred_at < $2) AS usage_cost,
         (SELECT trim_scale(coalesce(sum(cost), 0))::text FROM usage_rollups WHERE hour >= $1 AND hour < $2) AS rollup_cost,
         (SELECT trim_scale(coalesce(sum(amount), 0))::text FROM ledger_entries WHERE kind <> 'usage' AND created_at >= $1 AND created_at < $2) AS credits,
         (SELECT trim_scale(coalesce(sum(balance), 0))::text FROM account_balances) AS balances,
         (SELECT trim_scale(coalesce(-sum(amount), 0))::text FROM ledger_entries WHERE kind = 'usage') AS ledger_usage,
         pg_total_relation_size('usage_events') AS events_bytes`,
      [start, end],
    );
    const r = rows[0] as {
      events: number;
      rollups: number;
      ledger_entries: number;
      usage_cost: string;
      rollup_cost: string;
      credits: string;
      balances: string;
      ledger_usage: string;
      events_bytes: string;
    };
    if (r.events !== opts.events) throw new Error(`month data: ${r.events} usage_events, expected ${opts.events}`);
    if (r.rollup_cost !== r.usage_cost || r.ledger_usage !== r.usage_cost) {
      throw new Error(`month data inconsistent: events cost ${r.usage_cost}, rollups ${r.rollup_cost}, usage ledger ${r.ledger_usage}`);
    }
    return {
      period: opts.period,
      events: r.events,
      accounts,
      rollups: r.rollups,
      ledgerEntries: r.ledger_entries,
      usageCost: r.usage_cost,
      credits: r.credits,
      balances: r.balances,
      eventsTableMB: Math.round(Number(r.events_bytes) / 2 ** 20),
      buildMs: Math.round(performance.now() - started),
    };
  } finally {
    await client.end();
  }
}
