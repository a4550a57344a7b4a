import { USAGE_BATCH_JOB, USAGE_JOB } from '@app/queue';
import { BalanceReader } from '../balance-reader.js';
import { KNOBS, SIZES } from '../config.js';
import { chunk, type EventSet } from '../events.js';
import { freePort, httpRequest } from '../http.js';
import { type Child, startApi, startWorkers, stopAll } from '../processes.js';
import { type LatencySummary, perSecond, summarize } from '../stats.js';
import { enqueuePaused, type Harness, startClock, summarizeFlushes, type ThroughputResult } from './common.js';

export interface QueueRunOptions {
  /** Queue name of this scenario (a fresh queue per scenario). */
  queue: string;
  /** usage-batch jobs of SIZES.batchSize events, or one usage job per event. */
  jobs: 'batch' | 'single';
  /** Scenario (e): run the API and a balance reader while the worker drains the queue. */
  withReads?: boolean;
  /**
   * As a gateway loads the service: nothing is queued before the clock starts; the jobs are added
   * (addBulk, one call after another, faster than the worker takes them) while it runs, and the
   * clock runs from the first add until settled.
   */
  arrival?: boolean;
  /** Every account credited this much first (by SQL; the expected balances include it). */
  funding?: string;
  /** Scenario (j): run the API and this load on it for the whole timed window. */
  alongside?: (port: number) => { start: () => void; stop: () => Promise<void> };
}

export interface QueueRunResult extends ThroughputResult {
  reads?: LatencySummary & { errors: number; pauseMs: number };
  /** Jobs added while the worker ran (enqueueMs: until the last add returned, inside the clock). */
  arrival?: boolean;
}

/**
 * Scenarios (a), (b) and (e): every job is put on a paused queue first (addBulk), the worker
 * process(es) started and connected, then the queue is resumed and the clock runs until every
 * balance is exact and usage_events holds every event. With `arrival`, the jobs are added only
 * once the clock runs, while the worker takes them.
 */
export async function queueScenario(h: Harness, set: EventSet, opts: QueueRunOptions): Promise<QueueRunResult> {
  await h.ctx.resetData(SIZES.accounts);
  let expected = set.expected;
  if (opts.funding) {
    await h.ctx.fund(opts.funding);
    expected = new Map([...set.expected].map(([account, balance]) => [account, balance.plus(opts.funding!)]));
  }
  await h.settler.expect(expected, set.events.length);
  const queue = h.ctx.queue(opts.queue);
  const jobs: { name: string; data: unknown }[] =
    opts.jobs === 'batch'
      ? chunk(set.events, SIZES.batchSize).map((events) => ({ name: USAGE_BATCH_JOB, data: { events } }))
      : set.events.map((event) => ({ name: USAGE_JOB, data: event }));
  const perCall = opts.jobs === 'batch' ? SIZES.addBulkBatchJobs : SIZES.addBulkJobs;
  const enqueueMs = opts.arrival ? undefined : await enqueuePaused(queue, jobs, perCall);

  const env = h.ctx.serviceEnv(queue.name, KNOBS.logLevel);
  const children: Child[] = [];
  let reader: BalanceReader | undefined;
  let load: { start: () => void; stop: () => Promise<void> } | undefined;
  try {
    const workers = await startWorkers(KNOBS.workers, env, queue, KNOBS.cpuProfDir);
    children.push(...workers);
    if (opts.withReads || opts.alongside) {
      const port = await freePort();
      children.push(await startApi(env, port, KNOBS.cpuProfDir));
      if (opts.withReads) reader = new BalanceReader({ port, adminKey: h.ctx.adminKey, accounts: SIZES.accounts, pauseMs: SIZES.readPauseMs });
      load = opts.alongside?.(port);
    }

    const clock = await startClock(h);
    let addedMs: number | undefined;
    if (opts.arrival) {
      // Added while the worker runs, one addBulk after another; the adds are timed too.
      void (async () => {
        for (const group of chunk(jobs, perCall)) await queue.addBulk(group);
        addedMs = performance.now() - clock.started;
      })();
    } else {
      await queue.resume();
    }
    reader?.start();
    load?.start();
    const settled = await h.settler.waitSettled({ pollMs: KNOBS.settlePollMs, timeoutMs: KNOBS.scenarioTimeoutMs });
    const { ms, window } = clock.stop(settled);
    await reader?.stop();
    await load?.stop();

    const verified = await h.settler.verify();
    await stopAll(children);
    return {
      events: set.events.length,
      ms,
      eventsPerSecond: perSecond(set.events.length, ms),
      enqueueMs: enqueueMs ?? addedMs,
      arrival: opts.arrival ?? false,
      verified,
      flushes: summarizeFlushes(workers),
      workers: workers.length,
      window,
      reads: reader ? { ...summarize(reader.latencies), errors: reader.errors, pauseMs: SIZES.readPauseMs } : undefined,
    };
  } finally {
    await reader?.stop();
    await load?.stop();
    await stopAll(children);
    await h.ctx.dropQueue(queue);
  }
}

export interface HttpRunResult extends ThroughputResult {
  requests: number;
  inFlight: number;
  /** When the last request had been answered 202 (API ingest alone). */
  acceptedMs: number;
  acceptedEventsPerSecond: number;
  /** Events the worker had billed when the last request was answered: how much of its work it did while the API ingested. */
  billedWhenAccepted: number;
  requestMs: LatencySummary;
}

/**
 * Scenario (c): the API and the worker running, the bench POSTs /v1/usage-events with 1000
 * events per request, `inFlight` requests at a time; the clock runs from the first request until
 * settled.
 */
export async function httpScenario(h: Harness, set: EventSet, rep = 1): Promise<HttpRunResult> {
  await h.ctx.resetData(SIZES.accounts);
  await h.settler.expect(set.expected, set.events.length);
  const queue = h.ctx.queue(`bench-http${rep}`);
  const env = h.ctx.serviceEnv(queue.name, KNOBS.logLevel);
  const bodies = chunk(set.events, SIZES.batchSize).map((events) => JSON.stringify({ events }));
  const children: Child[] = [];
  try {
    const workers = await startWorkers(KNOBS.workers, env, queue, KNOBS.cpuProfDir);
    children.push(...workers);
    const port = await freePort();
    children.push(await startApi(env, port, KNOBS.cpuProfDir));

    const latencies: number[] = [];
    let next = 0;
    const post = async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const sent = performance.now();
        const response = await httpRequest({ port, method: 'POST', path: '/v1/usage-events', body, headers: { authorization: `Bearer ${h.ctx.adminKey}` } });
        latencies.push(performance.now() - sent);
        const parsed = response.status === 202 ? (JSON.parse(response.body) as { accepted: number; rejected: unknown[] }) : undefined;
        if (!parsed || parsed.accepted !== SIZES.batchSize || parsed.rejected.length) {
          throw new Error(`POST /v1/usage-events answered ${response.status}: ${response.body.slice(0, 500)}`);
        }
      }
    };
    const clock = await startClock(h);
    const started = clock.started;
    await Promise.all(Array.from({ length: SIZES.httpInFlight }, post)).catch((error: Error) => {
      const api = children.at(-1)!;
      throw new Error(`${error.message} (api ${api.running ? 'running' : 'exited'}; stderr: ${api.stderrTail.join('\n') || 'empty'})`);
    });
    const accepted = performance.now();
    const billedWhenAccepted = await h.settler.billed();
    const settled = await h.settler.waitSettled({ pollMs: KNOBS.settlePollMs, timeoutMs: KNOBS.scenarioTimeoutMs });
    const { ms, window } = clock.stop(settled);
    const verified = await h.settler.verify();
    await stopAll(children);
    return {
      events: set.events.length,
      ms,
      eventsPerSecond: perSecond(set.events.length, ms),
      verified,
      flushes: summarizeFlushes(workers),
      workers: workers.length,
      window,
      requests: bodies.length,
      inFlight: SIZES.httpInFlight,
      acceptedMs: accepted - started,
      acceptedEventsPerSecond: perSecond(set.events.length, accepted - started),
      billedWhenAccepted,
      requestMs: summarize(latencies),
    };
  } finally {
    await stopAll(children);
    await h.ctx.dropQueue(queue);
  }
}
