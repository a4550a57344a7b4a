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

  const indices = chunk(
    set.events.map((_, i) => i),
    SIZES.batchSize,
  );
  // RECORD_PRICED's parameters, as the worker sends them: the events as one JSON array (built here,
  // untimed; stringified in the timed loop as the worker does) and the ledger reference.
  const params = indices.map((batch, n) => {
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
