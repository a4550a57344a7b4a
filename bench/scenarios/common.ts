import type { Queue } from 'bullmq';
import type { BenchContext } from '../context.js';
import type { Interference, MachineWatch } from '../machine.js';
import type { Child, FlushLine } from '../processes.js';
import type { Settler } from '../settle.js';
import { percentile } from '../stats.js';

export interface Harness {
  ctx: BenchContext;
  settler: Settler;
  watch: MachineWatch;
  log: (line: string) => void;
}

/** What else ran on the machine during a timed window. */
export interface WindowNote {
  /** How long the bench waited for the machine to go quiet before starting the clock. */
  quietWaitMs: number;
  quiet: boolean;
  interference: Interference;
}

/** Below this share of the machine taken by foreign processes, a window counts as undisturbed. */
export const QUIET_SHARE = 0.05;

/**
 * Waits (bounded) for the machine to be quiet, then starts the clock; stop() returns the elapsed
 * ms and what foreign processes took meanwhile.
 */
export async function startClock(h: Harness): Promise<{ started: number; stop: (at?: number) => { ms: number; window: WindowNote } }> {
  const { waitedMs, quiet } = await h.watch.waitQuiet({ maxShare: QUIET_SHARE, maxWaitMs: 60_000, log: h.log });
  const before = h.watch.sample();
  const started = performance.now();
  return {
    started,
    stop: (at = performance.now()) => {
      const ms = at - started;
      return { ms, window: { quietWaitMs: waitedMs, quiet, interference: h.watch.interference(before, h.watch.sample(), ms) } };
    },
  };
}

export interface ThroughputResult {
  events: number;
  /** Timed window: from the start signal (queue resumed / first request) until settled. */
  ms: number;
  eventsPerSecond: number;
  /** Time spent putting the jobs on the (paused) queue before the clock started. */
  enqueueMs?: number;
  verified?: { accounts: number; events: number; rejected: number; ledgerEntries: number };
  /** Summary of the worker's "flush committed" lines (BENCH_LOG_LEVEL=info only). */
  flushes?: FlushSummary;
  workers?: number;
  window?: WindowNote;
}

export interface FlushSummary {
  flushes: number;
  meanJobs: number;
  meanEvents: number;
  msP50: number;
  msP99: number;
  msMax: number;
  msTotal: number;
  /** The first flush: on a backlog it waits behind the validation of every job taken at once. */
  first: { jobs: number; events: number; ms: number };
}

export function summarizeFlushes(workers: Child[]): FlushSummary | undefined {
  const lines: FlushLine[] = workers.flatMap((w) => w.flushes);
  if (!lines.length) return undefined;
  const mean = (f: (l: FlushLine) => number) => Math.round((lines.reduce((n, l) => n + f(l), 0) / lines.length) * 10) / 10;
  return {
    flushes: lines.length,
    meanJobs: mean((l) => l.jobs),
    meanEvents: mean((l) => l.events),
    msP50: percentile(lines.map((l) => l.ms), 50),
    msP99: percentile(lines.map((l) => l.ms), 99),
    msMax: Math.max(...lines.map((l) => l.ms)),
    msTotal: lines.reduce((n, l) => n + l.ms, 0),
    first: { jobs: lines[0].jobs, events: lines[0].events, ms: lines[0].ms },
  };
}

/** Puts the jobs on a paused queue with addBulk, `perCall` jobs per call; returns the ms it took. */
export async function enqueuePaused(queue: Queue, jobs: { name: string; data: unknown }[], perCall: number): Promise<number> {
  await queue.pause();
  const started = performance.now();
  for (let i = 0; i < jobs.length; i += perCall) await queue.addBulk(jobs.slice(i, i + perCall));
  const ms = performance.now() - started;
  const counts = await queue.getJobCounts('wait', 'active', 'completed');
  const queued = counts.wait ?? 0;
  if (queued !== jobs.length) throw new Error(`expected ${jobs.length} jobs queued, found ${JSON.stringify(counts)}`);
  return ms;
}
