import pg from 'pg';
import { Money } from '@app/billing';
import { USAGE_JOB } from '@app/queue';
import { KNOBS, SIZES } from '../config.js';
import { makeEvents } from '../events.js';
import { startWorkers, stopAll, type Child } from '../processes.js';
import { type LatencySummary, sleep, summarize } from '../stats.js';
import { type Harness, startClock, type WindowNote } from './common.js';

export interface FreshnessResult extends LatencySummary {
  warmup: number[];
  samples: number[];
  pollMs: number;
  pauseMs: number;
  window: WindowNote;
}

const WARMUP = 3;

/**
 * Scenario (d): the worker idle, one `usage` job at a time: the clock starts before queue.add and
 * stops when a query of the account's balance (every ~2 ms) shows the event billed. Sequential,
 * with a pause between samples so the service is idle again; the first WARMUP samples (cold JIT,
 * first pricing-context load) are reported apart.
 */
export async function freshnessScenario(h: Harness, run: string): Promise<FreshnessResult> {
  const accounts = 10;
  await h.ctx.resetData(SIZES.accounts);
  const total = WARMUP + SIZES.freshnessSamples;
  const set = makeEvents({ run, tag: 'd', n: total, accounts, seed: 4 });
  const queue = h.ctx.queue('bench-freshness');
  const env = h.ctx.serviceEnv(queue.name, KNOBS.logLevel);
  const client = new pg.Client({ connectionString: h.ctx.databaseUrl, application_name: 'billing-bench-freshness' });
  await client.connect();
  const children: Child[] = [];
  try {
    children.push(...(await startWorkers(KNOBS.workers, env, queue, KNOBS.cpuProfDir)));
    const balances = new Map<string, Money>();
    const latencies: number[] = [];
    const clock = await startClock(h);
    for (let i = 0; i < total; i++) {
      const event = set.events[i];
      const expected = (balances.get(event.account_id) ?? new Money(0)).minus(set.costs[i]);
      balances.set(event.account_id, expected);
      const want = expected.toFixed();
      const started = performance.now();
      await queue.add(USAGE_JOB, event);
      for (;;) {
        const { rows } = await client.query('SELECT balance = $2::numeric AS ok FROM account_balances WHERE account_id = $1', [event.account_id, want]);
        if (rows[0]?.ok) break;
        if (performance.now() - started > 30_000) throw new Error(`event ${event.event_id} not billed within 30 s`);
        await sleep(SIZES.freshnessPollMs);
      }
      latencies.push(performance.now() - started);
      await sleep(SIZES.freshnessPauseMs);
    }
    const { window } = clock.stop();
    const samples = latencies.slice(WARMUP).map((ms) => Math.round(ms * 100) / 100);
    return {
      ...summarize(samples),
      warmup: latencies.slice(0, WARMUP).map((ms) => Math.round(ms * 100) / 100),
      samples,
      pollMs: SIZES.freshnessPollMs,
      pauseMs: SIZES.freshnessPauseMs,
      window,
    };
  } finally {
    await stopAll(children);
    await client.end();
    await h.ctx.dropQueue(queue);
  }
}
