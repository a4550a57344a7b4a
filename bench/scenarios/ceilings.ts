import pg from 'pg';
import { RECORD_PRICED } from '@app/db';
import { KNOBS, PRICES, SIZES } from '../config.js';
import { chunk, type EventSet, sha256 } from '../events.js';
import { startNoopWorker } from '../processes.js';
import { perSecond } from '../stats.js';
import { enqueuePaused, type Harness, startClock, type ThroughputResult } from './common.js';

/**
 * Ceiling 1: the rows the worker writes for the same events, written by plain batched SQL from
 * this process: the worker's own RECORD_PRICED statement (idempotent insert ON CONFLICT (event_id)
 * DO NOTHING, one UPDATE per account, one ledger entry per account, rollup upsert), one
 * transaction per 1000 events, on one connection, prices computed here beforehand. No queue, no
 * validation, no JSON, no account lock (one connection: nothing to serialise against).
 */
export async function batchedSqlCeiling(h: Harness, set: EventSet): Promise<ThroughputResult & { transactions: number }> {
  await h.ctx.resetData(SIZES.accounts);
  await h.settler.expect(set.expected, set.events.length);

  // Built here, untimed; stringified in the timed loop, as the worker does.
  const params = recordPricedParams(set, SIZES.batchSize);

  const client = new pg.Client({ connectionString: h.ctx.databaseUrl, application_name: 'billing-bench-ceiling' });
  await client.connect();
  try {
    const clock = await startClock(h);
    for (const p of params) {
      await client.query('BEGIN');
      await client.query(RECORD_PRICED, [JSON.stringify(p[0]), p[1]]);
      await client.query('COMMIT');
    }
    const { ms, window } = clock.stop();
    const check = await h.settler.check();
    if (check.matching !== check.accounts || check.events !== set.events.length) throw new Error(`batched SQL ceiling did not bill exactly: ${JSON.stringify(check)}`);
    const verified = await h.settler.verify();
    return { events: set.events.length, ms, eventsPerSecond: perSecond(set.events.length, ms), verified, transactions: params.length, window };
  } finally {
    await client.end();
  }
}

/**
 * RECORD_PRICED's parameters for `set` in batches of `size`, as the worker sends them: the events
 * as one JSON array (stringified by the caller, as the worker does) and the ledger reference.
 */
export function recordPricedParams(set: EventSet, size: number) {
  const indices = chunk(
    set.events.map((_, i) => i),
    size,
  );
  return indices.map((batch, n) => {
    const events = batch.map((i) => set.events[i]);
    return [
      events.map((e, k) => ({
        event_id: e.event_id,
        account_id: e.account_id,
        model_id: PRICES.model,
        endpoint: e.endpoint,
        occurred_at: e.occurred_at,
        rate_card_version: PRICES.rateCardVersion,
        input_tokens: e.usage.prompt_tokens - e.usage.prompt_tokens_details.cached_tokens,
        cached_input_tokens: e.usage.prompt_tokens_details.cached_tokens,
        output_tokens: e.usage.completion_tokens,
        cache_reported: true,
        cost: set.costs[batch[k]].toFixed(),
        content_hash: sha256(JSON.stringify(e)),
        usage: e.usage,
        metadata: null,
      })),
      `bench ceiling batch ${n}`,
    ] as const;
  });
}

/**
 * Ceiling 0, the floor: the least a billing write can do for the same events. Two tables of the
 * bench's own (not the service's): an idempotent insert of (event id, account, time, three token
 * counts, cost) with event_id as its only index, and one debit per account, in one statement, one
 * transaction per 1000 events, on one connection. No ledger, no rollups, no raw usage, no hash.
 */
export const FLOOR_SCHEMA = `
CREATE TABLE IF NOT EXISTS bench_floor_events (
  event_id text PRIMARY KEY, account_id text NOT NULL, occurred_at timestamptz NOT NULL,
  input_tokens int NOT NULL, cached_input_tokens int NOT NULL, output_tokens int NOT NULL, cost numeric(38,18) NOT NULL);
CREATE TABLE IF NOT EXISTS bench_floor_balances (account_id text PRIMARY KEY, balance numeric(38,18) NOT NULL DEFAULT 0)`;

export const FLOOR_WRITE = `
WITH input AS (
  SELECT * FROM json_to_recordset($1::json)
    AS t(event_id text, account_id text, occurred_at timestamptz, input_tokens int, cached_input_tokens int, output_tokens int, cost numeric)
), inserted AS (
  INSERT INTO bench_floor_events SELECT * FROM input ORDER BY event_id ON CONFLICT (event_id) DO NOTHING RETURNING account_id, cost
)
UPDATE bench_floor_balances b SET balance = b.balance - d.total
FROM (SELECT account_id, sum(cost) AS total FROM inserted GROUP BY account_id) d WHERE b.account_id = d.account_id`;

export async function floorCeiling(h: Harness, set: EventSet): Promise<ThroughputResult & { transactions: number }> {
  const client = new pg.Client({ connectionString: h.ctx.databaseUrl, application_name: 'billing-bench-floor' });
  await client.connect();
  try {
    await client.query(FLOOR_SCHEMA);
    await client.query('TRUNCATE bench_floor_events, bench_floor_balances');
    await client.query('INSERT INTO bench_floor_balances (account_id) SELECT DISTINCT account_id FROM json_to_recordset($1::json) AS t(account_id text)', [
      JSON.stringify(set.events.map((e) => ({ account_id: e.account_id }))),
    ]);
    await client.query('VACUUM ANALYZE bench_floor_events, bench_floor_balances');
    await client.query('CHECKPOINT');
    const batches = chunk(
      set.events.map((_, i) => i),
      SIZES.batchSize,
    ).map((batch) =>
      batch.map((i) => {
        const e = set.events[i];
        return {
          event_id: e.event_id,
          account_id: e.account_id,
          occurred_at: e.occurred_at,
          input_tokens: e.usage.prompt_tokens - e.usage.prompt_tokens_details.cached_tokens,
          cached_input_tokens: e.usage.prompt_tokens_details.cached_tokens,
          output_tokens: e.usage.completion_tokens,
          cost: set.costs[i].toFixed(),
        };
      }),
    );
    const clock = await startClock(h);
    for (const batch of batches) {
      await client.query('BEGIN');
      await client.query(FLOOR_WRITE, [JSON.stringify(batch)]);
      await client.query('COMMIT');
    }
    const { ms, window } = clock.stop();
    // Exact, like every other row: the floor's balances equal the bench's own model.
    const { rows } = await client.query('SELECT account_id, balance::text AS balance FROM bench_floor_balances');
    const wrong = (rows as { account_id: string; balance: string }[]).filter((r) => !set.expected.get(r.account_id)?.eq(r.balance));
    const [{ n }] = (await client.query('SELECT count(*)::int AS n FROM bench_floor_events')).rows;
    if (wrong.length || n !== set.events.length) throw new Error(`floor did not bill exactly: ${wrong.length} balances off, ${n} events`);
    return { events: set.events.length, ms, eventsPerSecond: perSecond(set.events.length, ms), transactions: batches.length, window };
  } finally {
    await client.query('DROP TABLE IF EXISTS bench_floor_events, bench_floor_balances').catch(() => undefined);
    await client.end();
  }
}

/**
 * Ceiling 2: BullMQ alone. A child process runs a Worker with a no-op processor, at concurrency
 * KNOBS.noopConcurrency (512) and the service worker's stalled and retention options; the single-event jobs are all added first (addBulk, 1000 per
 * call) to a paused queue, then the queue is resumed and the clock runs until the last job completed.
 */
export async function bullmqNoopCeiling(h: Harness, set: EventSet, rep = 1): Promise<ThroughputResult> {
  const queue = h.ctx.queue(`bench-noop${rep}`);
  const n = set.events.length;
  const enqueueMs = await enqueuePaused(
    queue,
    set.events.map((data) => ({ name: 'usage', data })),
    SIZES.addBulkJobs,
  );
  const worker = await startNoopWorker({ ...h.ctx.serviceEnv(queue.name, 'warn'), BENCH_NOOP_EXPECT: String(n), BENCH_NOOP_CONCURRENCY: String(KNOBS.noopConcurrency) });
  try {
    const done = worker.waitForLine('done', 300_000);
    const clock = await startClock(h);
    await queue.resume();
    await done;
    const { ms, window } = clock.stop();
    return { events: n, ms, eventsPerSecond: perSecond(n, ms), enqueueMs, window };
  } finally {
    await worker.stop();
    await h.ctx.dropQueue(queue);
  }
}
