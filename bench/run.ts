/**
 * `npm run bench`: end-to-end throughput, freshness and read latency of the billing service on
 * this machine, next to this machine's ceilings, in one run. See bench/README.md.
 */
import os from 'node:os';
import { Money } from '@app/billing';
import { KNOBS, PRICES, SIZES, TARGETS } from './config.js';
import { BenchContext } from './context.js';
import { type EventSet, makeEvents } from './events.js';
import { buildMonth, type MonthData } from './month-data.js';
import { MachineWatch } from './machine.js';
import { dropSnapshot, killAll, snapshotDist } from './processes.js';
import { fmtMs, fmtRate, type Row, systemInfo, table, writeResults } from './report.js';
import { batchedSqlCeiling, bullmqNoopCeiling, floorCeiling } from './scenarios/ceilings.js';
import { type Harness, QUIET_SHARE, type ThroughputResult, type WindowNote } from './scenarios/common.js';
import { exportScenario, type ExportResult } from './scenarios/exports.js';
import { freshnessScenario, type FreshnessResult } from './scenarios/freshness.js';
import { type ExpiryResult, expiryScenario, type LiabilityResult, liabilityScenario } from './scenarios/grants.js';
import { holdsDuringIngestScenario, type HoldsDuringIngestResult, type HoldsResult, holdsScenario, type LoadResult } from './scenarios/holds.js';
import { invoiceScenario, type InvoiceSizeResult } from './scenarios/invoices.js';
import { portalScenario, type PortalResult } from './scenarios/portal.js';
import { httpScenario, type HttpRunResult, queueScenario, type QueueRunResult } from './scenarios/service.js';
import { type CrossingResult, crossingScenario, type WebhookThroughputResult, webhookThroughputScenario } from './scenarios/webhooks.js';
import { Settler } from './settle.js';

const startedAt = new Date();
const clock = performance.now();
const log = (line: string) => void process.stdout.write(`[bench ${((performance.now() - clock) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);
const want = (id: string) => KNOBS.only.length === 0 || KNOBS.only.includes(id);

let ctx: BenchContext | undefined;
let settler: Settler | undefined;
let cleaning: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    killAll();
    dropSnapshot();
    await settler?.close().catch(() => undefined);
    const problems = (await ctx?.cleanup()) ?? [];
    for (const problem of problems) log(`cleanup: ${problem}`);
    if (ctx) log(`dropped database billing_bench_${ctx.run} and Redis keys ${ctx.prefix}:*`);
  })();
  return cleaning;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}
// The service processes run in sessions of their own (processes.ts), so nothing else ends them
// when the bench dies of an error that never reached cleanup().
process.once('exit', killAll);

/** Repetitions of one throughput measurement and the one with the median rate. */
interface Series<T extends ThroughputResult> {
  reps: T[];
  /** Median of the undisturbed runs (of all runs when every one was disturbed). */
  median: T;
  undisturbedRuns: number;
  /** The median had to include runs during which other processes used >= QUIET_SHARE of the machine. */
  disturbed: boolean;
}

function series<T extends ThroughputResult>(reps: T[]): Series<T> {
  const clean = reps.filter((r) => !disturbed(r.window));
  const pool = clean.length ? clean : reps;
  const sorted = [...pool].sort((a, b) => a.eventsPerSecond - b.eventsPerSecond);
  return { reps, median: sorted[Math.floor((sorted.length - 1) / 2)], undisturbedRuns: clean.length, disturbed: clean.length === 0 };
}

const disturbed = (w?: WindowNote) => !!w && (!w.quiet || w.interference.share >= QUIET_SHARE);

interface Results {
  floor?: Series<ThroughputResult & { transactions: number }>;
  sqlCeiling?: Series<ThroughputResult & { transactions: number }>;
  noopCeiling?: Series<ThroughputResult>;
  a?: Series<QueueRunResult>;
  /** (a) and (b) with the jobs added while the worker runs (the gateway's way): what the floor ratios use. */
  aArrival?: Series<QueueRunResult>;
  bArrival?: Series<QueueRunResult>;
  e?: QueueRunResult;
  b?: Series<QueueRunResult>;
  c?: Series<HttpRunResult>;
  d?: FreshnessResult;
  /** (f): the invoice run at both data sizes; growth = t(large) / t(small), of the medians. */
  invoices?: { period: string; via: string; small: InvoiceSizeResult; large: InvoiceSizeResult; growth: number };
  /** (g): the usage export; data is set when the month was built for it (not left by (f)). */
  exports?: ExportResult & { data?: MonthData };
  /** (m) grant expiry at scale; (n) credit liability report and CSV. */
  expiry?: ExpiryResult;
  liability?: LiabilityResult;
  /** (o): the customer portal in a browser. */
  portal?: PortalResult;
  /** (k) a threshold crossing to its delivery; (l) outbox events through one endpoint. */
  crossing?: CrossingResult;
  webhooks?: WebhookThroughputResult;
  /** (h), (i): hold authorizations beside GET balance; (j): (a) with and without them. */
  holds?: HoldsResult;
  holdsDuringIngest?: HoldsDuringIngestResult;
}

/** 100000 -> "100k", 1000000 -> "1M". */
const short = (n: number) => (n >= 1e6 && n % 1e6 === 0 ? `${n / 1e6}M` : n >= 1e3 && n % 1e3 === 0 ? `${n / 1e3}k` : n.toLocaleString('en-US'));
const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function checkPrices(context: BenchContext): Promise<void> {
  const { rows } = await context.pool.query(
    `SELECT input_per_million::text AS i, cached_input_per_million::text AS c, output_per_million::text AS o
     FROM rate_card_prices WHERE version = $1 AND model_id = $2`,
    [PRICES.rateCardVersion, PRICES.model],
  );
  const row = rows[0] as { i: string; c: string; o: string } | undefined;
  if (!row || !new Money(row.i).eq(PRICES.input) || !new Money(row.c).eq(PRICES.cachedInput) || !new Money(row.o).eq(PRICES.output)) {
    throw new Error(`rate card ${PRICES.rateCardVersion} of ${PRICES.model} is ${JSON.stringify(row)}; bench/config.ts PRICES must match it`);
  }
}

function tableRows(r: Results): Row[] {
  const out: Row[] = [];
  const star = (s?: { disturbed: boolean }) => (s?.disturbed ? ' *' : '');
  const sql = r.sqlCeiling?.median.eventsPerSecond;
  const floor = r.floor?.median.eventsPerSecond;
  const noop = r.noopCeiling?.median.eventsPerSecond;
  const ratio = (x: number, c: number | undefined) => (c ? x / c : Number.NaN);
  const fmtRatio = (x: number) => (Number.isNaN(x) ? 'n/a' : x.toFixed(2));
  const floorRow = (id: string, rate: number, target: number) => {
    const x = ratio(rate, floor);
    out.push({ scenario: `${id} as a ratio to the floor`, result: fmtRate(rate), ceiling: fmtRate(floor!), ratio: fmtRatio(x), target: `>= ${target} x ceiling 0`, pass: x >= target });
  };
  if (r.floor) out.push({ scenario: 'ceiling 0: the floor, insert + debit, 1000/txn', result: fmtRate(r.floor.median.eventsPerSecond) + star(r.floor), ceiling: '', ratio: '', target: '', pass: null });
  if (r.sqlCeiling) out.push({ scenario: 'ceiling 1: batched SQL, 1000 events/txn, no app', result: fmtRate(r.sqlCeiling.median.eventsPerSecond) + star(r.sqlCeiling), ceiling: '', ratio: '', target: '', pass: null });
  if (r.noopCeiling) out.push({ scenario: 'ceiling 2: BullMQ no-op, 1 job per event', result: fmtRate(r.noopCeiling.median.eventsPerSecond) + star(r.noopCeiling), ceiling: '', ratio: '', target: '', pass: null });
  if (r.a) {
    const x = ratio(r.a.median.eventsPerSecond, sql);
    out.push({ scenario: '(a) usage-batch jobs of 1000 -> exact balances', result: fmtRate(r.a.median.eventsPerSecond) + star(r.a), ceiling: sql ? fmtRate(sql) : 'n/a', ratio: fmtRatio(x), target: `>= ${TARGETS.batchRatio} x ceiling 1`, pass: x >= TARGETS.batchRatio });
    if (r.aArrival) {
      out.push({ scenario: '(a) the same jobs added while the worker runs', result: fmtRate(r.aArrival.median.eventsPerSecond) + star(r.aArrival), ceiling: sql ? fmtRate(sql) : 'n/a', ratio: fmtRatio(ratio(r.aArrival.median.eventsPerSecond, sql)), target: '', pass: null });
      if (floor) floorRow('(a), jobs arriving,', r.aArrival.median.eventsPerSecond, TARGETS.floorBatchRatio);
    }
  }
  if (r.b) {
    const x = ratio(r.b.median.eventsPerSecond, noop);
    out.push({ scenario: '(b) one usage job per event -> exact balances', result: fmtRate(r.b.median.eventsPerSecond) + star(r.b), ceiling: noop ? fmtRate(noop) : 'n/a', ratio: fmtRatio(x), target: `>= ${TARGETS.singleRatio} x ceiling 2`, pass: x >= TARGETS.singleRatio });
    if (r.bArrival) {
      out.push({ scenario: '(b) the same jobs added while the worker runs', result: fmtRate(r.bArrival.median.eventsPerSecond) + star(r.bArrival), ceiling: noop ? fmtRate(noop) : 'n/a', ratio: fmtRatio(ratio(r.bArrival.median.eventsPerSecond, noop)), target: '', pass: null });
      if (floor) floorRow('(b), jobs arriving,', r.bArrival.median.eventsPerSecond, TARGETS.floorSingleRatio);
    }
  }
  if (r.c) {
    const c = r.c.median;
    out.push({ scenario: `(c) HTTP ingest, 1000/request, ${c.inFlight} in flight -> settled`, result: fmtRate(c.eventsPerSecond) + star(r.c), ceiling: sql ? fmtRate(sql) : 'n/a', ratio: fmtRatio(ratio(c.eventsPerSecond, sql)), target: `>= ${TARGETS.httpEventsPerSecond.toLocaleString('en-US')} events/s`, pass: c.eventsPerSecond >= TARGETS.httpEventsPerSecond });
    if (floor) floorRow('(c)', c.eventsPerSecond, TARGETS.floorHttpRatio);
  }
  if (r.d) {
    out.push({ scenario: '(d) freshness: one event, idle service -> balance', result: `p50 ${fmtMs(r.d.p50)}, p99 ${fmtMs(r.d.p99)} (n=${r.d.count})${disturbed(r.d.window) ? ' *' : ''}`, ceiling: '', ratio: '', target: `p99 <= ${TARGETS.freshnessP99Ms} ms`, pass: r.d.p99 <= TARGETS.freshnessP99Ms });
  }
  if (r.e?.reads) {
    const reads = r.e.reads;
    const mark = disturbed(r.e.window) ? ' *' : '';
    out.push({ scenario: '(e) GET balance latency while (a) runs', result: `p50 ${fmtMs(reads.p50)}, p99 ${fmtMs(reads.p99)}, max ${fmtMs(reads.max)} (n=${reads.count})${mark}`, ceiling: '', ratio: '', target: `p99 <= ${TARGETS.readP99Ms} ms`, pass: reads.p99 <= TARGETS.readP99Ms && reads.errors === 0 });
    out.push({ scenario: '(a) while (e) reads (API up too), info', result: fmtRate(r.e.eventsPerSecond) + mark, ceiling: sql ? fmtRate(sql) : 'n/a', ratio: fmtRatio(ratio(r.e.eventsPerSecond, sql)), target: '', pass: null });
  }
  if (r.invoices) {
    const { small, large, growth } = r.invoices;
    for (const size of [small, large]) {
      out.push({
        scenario: `(f) invoice run, ${size.data.accounts} accounts, ${short(size.data.events)} events in the month`,
        result: `${fmtS(size.median.ms)} (${size.median.created} invoices)${star(size)}`,
        ceiling: '',
        ratio: '',
        target: `<= ${TARGETS.invoiceSeconds} s`,
        pass: size.median.ms <= TARGETS.invoiceSeconds * 1000,
      });
    }
    out.push({
      scenario: `(f) invoice run growth, ${short(small.data.events)} -> ${short(large.data.events)} events`,
      result: `t(${short(large.data.events)}) / t(${short(small.data.events)}) = ${growth.toFixed(2)} x${small.disturbed || large.disturbed ? ' *' : ''}`,
      ceiling: '',
      ratio: growth.toFixed(2),
      target: `<= ${TARGETS.invoiceGrowth} x`,
      pass: growth <= TARGETS.invoiceGrowth,
    });
  }
  if (r.exports) {
    const x = r.exports;
    const m = x.median;
    out.push({ scenario: `(g) usage.csv export, ${short(x.events)} rows: total time`, result: `${fmtS(m.ms)} (${m.rowsPerSecond.toLocaleString('en-US')} rows/s, ${m.mbPerSecond} MB/s)${star(x)}`, ceiling: '', ratio: '', target: `<= ${TARGETS.exportSeconds} s`, pass: m.ms <= TARGETS.exportSeconds * 1000 });
    out.push({ scenario: '(g) usage.csv export: time to first byte', result: `${fmtMs(x.firstByteMs)}${star(x)}`, ceiling: '', ratio: '', target: `<= ${TARGETS.exportFirstByteMs} ms`, pass: x.firstByteMs <= TARGETS.exportFirstByteMs });
    out.push({ scenario: '(g) usage.csv export: API peak RSS', result: `${x.peakRssMB} MB (${m.rssBeforeMB} MB before)${star(x)}`, ceiling: '', ratio: '', target: `<= ${TARGETS.exportPeakRssMB} MB`, pass: x.peakRssMB <= TARGETS.exportPeakRssMB });
  }
  if (r.expiry) {
    const x = r.expiry;
    const mark = disturbed(x.window) ? ' *' : '';
    out.push({ scenario: `(m) ${x.grants.toLocaleString('en-US')} grants expiring at once -> all ended`, result: `${fmtS(x.lastEndedMs)} (lag p50 ${fmtMs(x.lagMs.p50)}, p99 ${fmtMs(x.lagMs.p99)})${mark}`, ceiling: '', ratio: '', target: `<= ${TARGETS.expirySeconds} s`, pass: x.lastEndedMs <= TARGETS.expirySeconds * 1000 });
  }
  if (r.liability) {
    const x = r.liability;
    const med = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)];
    const mark = x.disturbed ? ' *' : '';
    out.push({ scenario: `(n) credit liability report, ${x.accounts.toLocaleString('en-US')} accounts`, result: `${fmtS(med(x.reportMs))} (frozen: ${fmtMs(x.frozenMs)})${mark}`, ceiling: '', ratio: '', target: `<= ${TARGETS.liabilityReportSeconds} s`, pass: med(x.reportMs) <= TARGETS.liabilityReportSeconds * 1000 });
    out.push({ scenario: `(n) credit-liability.csv, ${x.accounts.toLocaleString('en-US')} rows`, result: `${fmtS(med(x.csvMs))}${mark}`, ceiling: '', ratio: '', target: `<= ${TARGETS.liabilityCsvSeconds} s`, pass: med(x.csvMs) <= TARGETS.liabilityCsvSeconds * 1000 });
  }
  if (r.crossing) {
    const x = r.crossing;
    out.push({ scenario: '(k) threshold crossing, idle service -> webhook at the receiver', result: `p50 ${fmtMs(x.p50)}, p99 ${fmtMs(x.p99)} (n=${x.count})${disturbed(x.window) ? ' *' : ''}`, ceiling: '', ratio: '', target: `p99 <= ${TARGETS.crossingDeliveryP99Ms} ms`, pass: x.p99 <= TARGETS.crossingDeliveryP99Ms });
  }
  if (r.webhooks) {
    const x = r.webhooks;
    out.push({
      scenario: `(l) ${x.events.toLocaleString('en-US')} webhooks through one endpoint, ${x.accounts} accounts`,
      result: `${fmtS(x.ms)}, ${x.eventsPerSecond.toLocaleString('en-US')} webhooks/s, ${x.inOrder ? 'all, in order per account' : 'NOT all in order'}${disturbed(x.window) ? ' *' : ''}`,
      ceiling: '',
      ratio: '',
      target: 'all delivered, in order per account',
      pass: x.inOrder,
    });
  }
  if (r.portal) {
    const p = r.portal;
    out.push({
      scenario: `(o) portal: balance and chart shown, ${p.data.ledgerEntries.toLocaleString('en-US')} ledger entries, a year of hourly usage`,
      result: `${fmtMs(p.shownMs)} (balance ${fmtMs(p.balanceMs)}, chart ${fmtMs(p.chartMs)})${star(p)}`,
      ceiling: '',
      ratio: '',
      target: `<= ${TARGETS.portalShownMs} ms`,
      pass: p.shownMs <= TARGETS.portalShownMs,
    });
  }
  if (r.holds) {
    const x = r.holds;
    const mark = x.disturbed ? ' *' : '';
    const perS = (n: number) => `${Math.round(n).toLocaleString('en-US')}/s`;
    const declined = (l: { statuses: Record<string, number> }) => (l.statuses[402] ? `, ${l.statuses[402]} x 402` : ', no 402');
    const h = x.spreadPerSecond / x.balancePerSecond;
    out.push({
      scenario: `(h) hold authorizations over HTTP, ${SIZES.accounts} accounts, ${SIZES.holdsInFlight} in flight`,
      result: `${perS(x.spreadPerSecond)} (p50 ${fmtMs(x.spread.latency.p50)}, p99 ${fmtMs(x.spread.latency.p99)}${declined(x.spread)})${mark}`,
      ceiling: `GET balance ${perS(x.balancePerSecond)}`,
      ratio: fmtRatio(h),
      target: `>= ${TARGETS.holdsRatio} x GET balance, p99 <= ${TARGETS.holdsP99Ms} ms`,
      pass: h >= TARGETS.holdsRatio && x.spread.latency.p99 <= TARGETS.holdsP99Ms,
    });
    const i = x.hotPerSecond / x.spreadPerSecond;
    out.push({
      scenario: `(i) hold authorizations, one account, ${SIZES.holdsHotInFlight} in flight`,
      result: `${perS(x.hotPerSecond)} (p50 ${fmtMs(x.hot.latency.p50)}, p99 ${fmtMs(x.hot.latency.p99)}${declined(x.hot)})${mark}`,
      ceiling: `(h) ${perS(x.spreadPerSecond)}`,
      ratio: fmtRatio(i),
      target: `>= ${TARGETS.hotHoldsRatio} x (h)`,
      pass: i >= TARGETS.hotHoldsRatio,
    });
  }
  if (r.holdsDuringIngest) {
    const x = r.holdsDuringIngest;
    const mark = x.disturbed ? ' *' : '';
    const alone = [...x.alone].sort((p, q) => p.eventsPerSecond - q.eventsPerSecond)[Math.floor((x.alone.length - 1) / 2)];
    const during = [...x.during].sort((p, q) => p.eventsPerSecond - q.eventsPerSecond)[Math.floor((x.during.length - 1) / 2)];
    out.push({
      scenario: `(j) (a) while (h) authorizes, ${SIZES.holdsInFlight} in flight`,
      result: `${fmtRate(during.eventsPerSecond)}${mark}`,
      ceiling: `(a) alone ${fmtRate(alone.eventsPerSecond)}`,
      ratio: fmtRatio(x.ingestRatio),
      target: `>= ${TARGETS.ingestWithHoldsRatio} x (a) alone`,
      pass: x.ingestRatio >= TARGETS.ingestWithHoldsRatio,
    });
    const m = x.median;
    out.push({
      scenario: '(j) hold authorizations meanwhile',
      result: `${Math.round(m.perSecond).toLocaleString('en-US')}/s (p50 ${fmtMs(m.latency.p50)}, p99 ${fmtMs(m.latency.p99)}${m.statuses[402] ? `, ${m.statuses[402]} x 402` : ', no 402'})${mark}`,
      ceiling: '',
      ratio: '',
      target: `p99 <= ${TARGETS.holdsDuringIngestP99Ms} ms`,
      pass: m.latency.p99 <= TARGETS.holdsDuringIngestP99Ms,
    });
  }
  return out;
}

const cpuNote = (x: Pick<LoadResult, 'cpuMsPerRequest'>) =>
  x.cpuMsPerRequest ? `; CPU per request: API ${x.cpuMsPerRequest.api} ms${x.cpuMsPerRequest.postgres === undefined ? '' : `, Postgres ${x.cpuMsPerRequest.postgres} ms`}${x.cpuMsPerRequest.bench === undefined ? '' : `, the bench's clients ${x.cpuMsPerRequest.bench} ms`}` : '';
const loadNote = (x: { requests: number; perSecond: number; latency: { p50: number; p99: number; max: number }; statuses: Record<string, number> }) =>
  `${x.requests.toLocaleString('en-US')} requests, ${x.perSecond.toLocaleString('en-US')}/s, p50 ${fmtMs(x.latency.p50)}, p99 ${fmtMs(x.latency.p99)}, max ${fmtMs(x.latency.max)}, ${Object.entries(x.statuses).map(([status, n]) => `${n} x ${status}`).join(', ')}`;

function holdsMethod(x: HoldsResult): string {
  const runs = x.runs.map((run, i) => `run ${i + 1}: GET balance ${loadNote(run.balance)}${cpuNote(run.balance)}; (h) ${loadNote(run.spread)}${cpuNote(run.spread)}; (i) ${loadNote(run.hot)}${cpuNote(run.hot)}`);
  return `one API process, ${SIZES.accounts} accounts each credited $1000 by SQL; per run, back to back, each with its own clock: ${SIZES.holdsRequests.toLocaleString('en-US')} GET /v1/accounts/{id}/balance of random accounts, ${SIZES.holdsInFlight} in flight (the yardstick); ${SIZES.holdsRequests.toLocaleString('en-US')} POST /v1/accounts/{id}/holds by estimate (50-8000 input tokens, 1-4096 max output) on random accounts, ${SIZES.holdsInFlight} in flight (h); the same on one account, ${SIZES.holdsHotInFlight} in flight (i); after 500 warm-up requests of each kind. Every 100 ms the bench releases by SQL the holds answered 201 since (as the flush settles them in bulk), so ended holds stay in the tables as in production; ${x.ended.toLocaleString('en-US')} released. Rates are medians of ${x.runs.length} run(s). ${runs.join('. ')}.`;
}

function ingestWithHoldsMethod(x: HoldsDuringIngestResult): string {
  const runs = x.alone.map((alone, i) => `run ${i + 1}: (a) alone ${fmtRate(alone.eventsPerSecond)}, with holds ${fmtRate(x.during[i].eventsPerSecond)}; holds ${loadNote(x.holds[i])}${cpuNote(x.holds[i])}`);
  return `row (a) (its events, every account credited $1000 first) alone, then again with the API process up and (h)'s clients (${SIZES.holdsInFlight} in flight, releases as in (h)) authorizing for the whole timed window, back to back, ${x.alone.length} time(s); the ratio is of the medians. ${runs.join('; ')}.`;
}

function markdown(opts: { table: string; system: Record<string, unknown>; results: Results; runtimeS: number }): string {
  const s = opts.system;
  const pg = s.postgres as Record<string, string>;
  const r = opts.results;
  const reps = <T extends ThroughputResult>(x: Series<T>) =>
    `runs: ${x.reps.map((rep) => `${fmtRate(rep.eventsPerSecond)} (${fmtMs(rep.ms)}${disturbed(rep.window) ? `, other processes took ${Math.round((rep.window?.interference.share ?? 0) * 100)}% of the machine` : ''})`).join('; ')}`;
  const flush = (x?: ThroughputResult) =>
    x?.flushes ? ` Worker flushes (median run): ${x.flushes.flushes}, mean ${x.flushes.meanJobs} jobs / ${x.flushes.meanEvents} events each, p50 ${x.flushes.msP50} ms, p99 ${x.flushes.msP99} ms, max ${x.flushes.msMax} ms, ${fmtMs(x.flushes.msTotal)} in total; the first flush (${x.flushes.first.jobs} jobs) took ${x.flushes.first.ms} ms.` : '';
  const anyDisturbed =
    [r.floor, r.sqlCeiling, r.noopCeiling, r.a, r.aArrival, r.b, r.bArrival, r.c, r.invoices?.small, r.invoices?.large, r.exports, r.portal, r.holds, r.holdsDuringIngest].some((x) => x?.disturbed) || disturbed(r.d?.window) || disturbed(r.e?.window) || disturbed(r.crossing?.window) || disturbed(r.webhooks?.window);
  const month = (d: MonthData) =>
    `${d.events.toLocaleString('en-US')} events in ${d.period} over ${d.accounts} accounts, ${d.rollups.toLocaleString('en-US')} hourly rollups, ${d.ledgerEntries.toLocaleString('en-US')} ledger entries, usage_events ${d.eventsTableMB} MB with indexes, written by SQL in ${fmtS(d.buildMs)}`;
  const invoiceRuns = (x: InvoiceSizeResult) =>
    `runs: ${x.runs.map((run) => `${fmtS(run.ms)}${disturbed(run.window) ? ` (other processes took ${Math.round(run.window.interference.share * 100)}% of the machine)` : ''}`).join('; ')}; warm-up request ${fmtMs(x.warmupMs)}; Σ usage_total ${x.check.usageTotal} = Σ usage_events.cost`;
  const lines = [
    `# Billing bench, ${startedAt.toISOString()}, ${String(s.hostname)}`,
    '',
    `${String(s.cpuModel)}, ${String(s.cores)} cores, ${String(s.memoryGiB)} GiB; node ${String(s.node)}, PostgreSQL ${pg.version} (synchronous_commit=${pg.synchronous_commit}, fsync=${pg.fsync}, shared_buffers=${pg.shared_buffers}), Redis ${String(s.redis)}, BullMQ ${String(s.bullmq)}; commit ${String(s.commit)}${s.dirty ? ' + uncommitted changes' : ''}. ${KNOBS.workers} worker process${KNOBS.workers === 1 ? '' : 'es'}. Runtime ${opts.runtimeS.toFixed(0)} s.`,
    '',
    opts.table,
    '',
    `Throughput rows are the median of ${KNOBS.reps} runs (of the runs that other processes on the machine did not disturb, when there are some), each ceiling run right before its scenario's run.${anyDisturbed ? ` \\* = other processes used at least ${QUIET_SHARE * 100}% of the machine during every run of that figure (see below and the .json): treat it with care.` : ''}`,
    '',
    '## How each row was measured',
    '',
    `- Every run starts from empty event/ledger/rollup tables and ${SIZES.accounts} fresh accounts at balance 0, after VACUUM ANALYZE and CHECKPOINT, with freshly started service processes (${KNOBS.workers} worker process${KNOBS.workers === 1 ? '' : 'es'}, LOG_LEVEL=${KNOBS.logLevel}), and waits for the machine to be quiet before the clock starts.`,
    r.sqlCeiling || r.a || r.b || r.c || r.e
      ? `- Settled = every account's balance equals the value the bench computed itself with decimal.js, exactly, and usage_events holds every event sent (polled every ${KNOBS.settlePollMs} ms; afterwards each balance is read back and compared as Money, and no rejection may exist).`
      : '',
    r.floor ? `- Ceiling 0 (the floor): the same ${r.floor.median.events.toLocaleString('en-US')} events in ${r.floor.median.transactions} transactions of ${SIZES.batchSize}, written by the bench into two tables of its own: an idempotent insert of (event id, account, time, three token counts, cost), event_id its only index, plus one debit per account, one statement per transaction, one connection; balances checked exact. ${reps(r.floor)}.` : '',
    r.sqlCeiling ? `- Ceiling 1: ${r.sqlCeiling.median.events.toLocaleString('en-US')} events in ${r.sqlCeiling.median.transactions} transactions of ${SIZES.batchSize}: the worker's RECORD_PRICED statement (insert ON CONFLICT DO NOTHING, one UPDATE per account, one ledger entry per account, rollup upsert) on one connection from the bench, prices computed beforehand. ${reps(r.sqlCeiling)}.` : '',
    r.noopCeiling ? `- Ceiling 2: ${r.noopCeiling.median.events.toLocaleString('en-US')} single-event jobs added to a paused queue (addBulk, ${SIZES.addBulkJobs} per call), then a BullMQ Worker in a child process with a no-op processor, concurrency ${KNOBS.noopConcurrency} and the service worker's stalled and retention options; clock from queue resume to the last completion. ${reps(r.noopCeiling)}.` : '',
    r.a ? `- (a): the same ${r.a.median.events.toLocaleString('en-US')} events as ceiling 1, as ${r.a.median.events / SIZES.batchSize} usage-batch jobs added to a paused queue first (addBulk, ${SIZES.addBulkBatchJobs} jobs per call, ${fmtMs(r.a.median.enqueueMs ?? 0)}, not timed); worker started; clock from queue resume until settled. ${reps(r.a)}.${flush(r.a.median)}` : '',
    r.aArrival ? `- (a), jobs arriving: the same jobs, none queued before the clock starts; the worker started, then addBulk (${SIZES.addBulkBatchJobs} jobs per call, one call after another) while it runs; clock from the first add until settled (the adds took ${fmtMs(r.aArrival.median.enqueueMs ?? 0)} of it). The floor ratio is of this figure. ${reps(r.aArrival)}.${flush(r.aArrival.median)}` : '',
    r.bArrival ? `- (b), jobs arriving: likewise for the single-event jobs (${SIZES.addBulkJobs} per addBulk call; the adds took ${fmtMs(r.bArrival.median.enqueueMs ?? 0)}). The floor ratio is of this figure. ${reps(r.bArrival)}.${flush(r.bArrival.median)}` : '',
    r.b ? `- (b): ${r.b.median.events.toLocaleString('en-US')} single-event usage jobs, enqueued as for ceiling 2 (${fmtMs(r.b.median.enqueueMs ?? 0)}, not timed); clock from resume until settled. ${reps(r.b)}.${flush(r.b.median)}` : '',
    r.c ? `- (c): ${r.c.median.events.toLocaleString('en-US')} events in ${r.c.median.requests} POST /v1/usage-events requests, ${r.c.median.inFlight} in flight, API and worker running; clock from the first request until settled. Median run: all 202 after ${fmtMs(r.c.median.acceptedMs)} (${fmtRate(r.c.median.acceptedEventsPerSecond)} accepted; request p50 ${fmtMs(r.c.median.requestMs.p50)}, p99 ${fmtMs(r.c.median.requestMs.p99)}; ${r.c.median.billedWhenAccepted.toLocaleString('en-US')} of the events billed by then). ${reps(r.c)}.${flush(r.c.median)}` : '',
    r.d ? `- (d): ${r.d.count} sequential single-event usage jobs on an idle worker (after ${r.d.warmup.length} warm-up samples: ${r.d.warmup.map((x) => fmtMs(x)).join(', ')}), clock from before queue.add until a balance query (every ~${r.d.pollMs} ms) shows the event; ${r.d.pauseMs} ms pause between samples. Max ${fmtMs(r.d.max)}.` : '',
    r.invoices
      ? `- (f): ${r.invoices.via}, timed from the request until its answer is read, ${KNOBS.reps} run(s) per size on one freshly started API process (after a warm-up request for an empty month), the month's invoices removed before each run so each creates all of them; checked after each run: ${SIZES.accounts} invoices, Σ usage_total = Σ usage_events.cost of the month, Σ credits_total = Σ credits, Σ closing_balance = Σ balances, exactly. Small: ${month(r.invoices.small.data)}; ${invoiceRuns(r.invoices.small)}. Large: ${month(r.invoices.large.data)}; ${invoiceRuns(r.invoices.large)}.`
      : '',
    r.exports
      ? `- (g): GET /v1/exports/usage.csv (admin key, no range) from a freshly started API process per run, the body read and discarded by the bench over HTTP (lines counted: ${r.exports.median.lines.toLocaleString('en-US')} = header + rows), on ${r.exports.data ? month(r.exports.data) : 'the large month (f) left'}; the API's VmRSS read every ${SIZES.exportRssSampleMs} ms (and VmHWM). Time and rows/s: median run; first byte: median; RSS: highest of all runs. Runs: ${r.exports.runs.map((run) => `${fmtS(run.ms)}, first byte ${fmtMs(run.firstByteMs)} (headers ${fmtMs(run.headersMs)}), ${(run.bytes / 2 ** 20).toFixed(0)} MB, RSS ${run.rssBeforeMB} -> peak ${run.rssPeakMB} MB (${run.rssSamples} samples, VmHWM ${run.hwmAfterMB ?? 'n/a'} MB)${disturbed(run.window) ? `, other processes took ${Math.round(run.window.interference.share * 100)}% of the machine` : ''}`).join('; ')}.`
      : '',
    r.expiry ? `- (m): ${r.expiry.grants.toLocaleString('en-US')} grants of $1 over ${r.expiry.accounts.toLocaleString('en-US')} accounts (a usage entry of 2.5 each drew the first two and a half), written by SQL in ${fmtS(r.expiry.buildMs)}, all expiring at one instant a few seconds after ${KNOBS.workers} worker process(es) started; clock from that instant until no grant is open (polled every 50 ms). ${r.expiry.entries.toLocaleString('en-US')} expiry entries removing ${r.expiry.removed}, every balance 0, checked. Lag (ended_at - expires_at): p50 ${fmtMs(r.expiry.lagMs.p50)}, p99 ${fmtMs(r.expiry.lagMs.p99)}, max ${fmtMs(r.expiry.lagMs.max)}.` : '',
    r.liability ? `- (n): ${r.liability.accounts.toLocaleString('en-US')} accounts with ${r.liability.ledgerEntries.toLocaleString('en-US')} ledger entries in ${r.liability.period} (a $10 purchase and a $2 promotional grant on day 1, $0.10 of usage every day, the promotional grant's $0.60 expiring on day 15), written by SQL in ${fmtS(r.liability.buildMs)}; GET /v1/reports/credit-liability?limit=1000 (every account computed for the totals) and GET /v1/exports/credit-liability.csv on a fresh API process, the frozen month removed before each so each computes; totals checked exactly. Runs: report ${r.liability.reportMs.map((ms) => fmtS(ms)).join(', ')}; CSV ${r.liability.csvMs.map((ms) => fmtS(ms)).join(', ')}; the frozen month read back in ${fmtMs(r.liability.frozenMs)}.` : '',
    r.portal
      ? `- (o): one account with ${r.portal.data.rollups.toLocaleString('en-US')} hourly rollups (${SIZES.portalDays} days) and ${r.portal.data.ledgerEntries.toLocaleString('en-US')} ledger entries written by SQL in ${fmtMs(r.portal.data.buildMs)}; headless Chromium opens a fresh portal session link in a fresh browser context per run, against a freshly started API process; the figure is the later of the page's own marks (balance rendered, chart first drawn with its 30 days) from the start of navigation, median of ${KNOBS.reps} run(s). Runs: ${r.portal.runs.map((run) => `balance ${fmtMs(run.balanceMs)}, chart ${fmtMs(run.chartMs)}, wall ${fmtMs(run.wallMs)}${disturbed(run.window) ? ` (other processes took ${Math.round(run.window.interference.share * 100)}% of the machine)` : ''}`).join('; ')}.`
      : '',
    r.crossing
      ? `- (k): ${r.crossing.count} accounts at $0.01 with low_balance_threshold $0.005 (after ${r.crossing.warmup.length} warm-up samples: ${r.crossing.warmup.map((x) => fmtMs(x)).join(', ')}), one at a time on an idle service (${KNOBS.workers} worker process(es)): one usage event of $0.0121 on the queue; clock from before queue.add until the bench's receiver (on 127.0.0.1, verifying each request with standardwebhooks) has acknowledged the account's balance.low; ${r.crossing.pauseMs} ms pause between samples. Max ${fmtMs(r.crossing.max)}.`
      : '',
    r.webhooks
      ? `- (l): ${r.webhooks.events.toLocaleString('en-US')} balance.low events written into the outbox by SQL in one transaction, round-robin over ${r.webhooks.accounts} accounts and numbered, with ${KNOBS.workers} idle worker process(es) and one endpoint (the bench's receiver, verifying each request); clock from before the INSERT until the last acknowledgement: ${r.webhooks.requests.toLocaleString('en-US')} requests. Checked: every event once by webhook-id, each account's in the order written.`
      : '',
    r.holds ? `- (h), (i): ${holdsMethod(r.holds)}` : '',
    r.holdsDuringIngest ? `- (j): ${ingestWithHoldsMethod(r.holdsDuringIngest)}` : '',
    r.e?.reads ? `- (e): (a) run once more with the API process up and one client reading GET /v1/accounts/{id}/balance of random accounts (one request in flight, ${r.e.reads.pauseMs} ms pause between reads) for the whole timed window: ${r.e.reads.count} reads, ${r.e.reads.errors} errors. That run's throughput is the info row (the API process and the reader share the 2 cores).${flush(r.e)}` : '',
    '',
    'Raw figures: the .json file of the same name.',
    '',
  ];
  return lines.filter((l, i, all) => l !== '' || all[i - 1] !== '').join('\n');
}

let exitCode = 0;
try {
  snapshotDist(startedAt.getTime().toString(36));
  ctx = await BenchContext.create();
  log(`database billing_bench_${ctx.run} migrated, BullMQ prefix ${ctx.prefix}; ${KNOBS.workers} worker process(es), LOG_LEVEL=${KNOBS.logLevel}, ${KNOBS.reps} run(s) per throughput figure`);
  await checkPrices(ctx);
  settler = await Settler.open(ctx.databaseUrl);
  const watch = new MachineWatch(`billing_bench_${ctx.run}`, os.cpus().length);
  const h: Harness = { ctx, settler, watch, log };
  const system = await systemInfo(ctx);

  const accounts = SIZES.accounts;
  // Only the sets the chosen scenarios use (BENCH_ONLY), so a run of (f)/(g) alone does not build them.
  const none: EventSet = { events: [], costs: [], expected: new Map() };
  const batchSet = want('floor') || want('sql') || want('a') || want('e') || want('holds') ? makeEvents({ run: ctx.run, tag: 'a', n: SIZES.batchEvents, accounts, seed: 1 }) : none;
  const singleSet = want('noop') || want('b') ? makeEvents({ run: ctx.run, tag: 'b', n: SIZES.singleEvents, accounts, seed: 2 }) : none;
  const httpSet = want('c') ? makeEvents({ run: ctx.run, tag: 'c', n: SIZES.httpEvents, accounts, seed: 3 }) : none;
  const generated = batchSet.events.length + singleSet.events.length + httpSet.events.length;
  if (generated) log(`generated ${generated} events over ${accounts} accounts`);

  const results: Results = {};
  const say = (what: string, x: ThroughputResult, extra = '') =>
    log(`${what}: ${fmtRate(x.eventsPerSecond)} (${fmtMs(x.ms)}${extra}${disturbed(x.window) ? `; other processes took ${Math.round((x.window?.interference.share ?? 0) * 100)}% of the machine` : ''})`);

  const floorRuns: (ThroughputResult & { transactions: number })[] = [];
  const sqlRuns: (ThroughputResult & { transactions: number })[] = [];
  const aRuns: QueueRunResult[] = [];
  const aArrivalRuns: QueueRunResult[] = [];
  for (let rep = 1; rep <= KNOBS.reps && (want('floor') || want('sql') || want('a')); rep++) {
    if (want('floor')) {
      floorRuns.push(await floorCeiling(h, batchSet));
      say(`ceiling 0 (the floor) run ${rep}`, floorRuns.at(-1)!);
    }
    if (want('sql')) {
      sqlRuns.push(await batchedSqlCeiling(h, batchSet));
      say(`ceiling 1 (batched SQL) run ${rep}`, sqlRuns.at(-1)!);
    }
    if (want('a')) {
      aRuns.push(await queueScenario(h, batchSet, { queue: `bench-a${rep}`, jobs: 'batch' }));
      say(`(a) usage-batch run ${rep}`, aRuns.at(-1)!, `; enqueue ${fmtMs(aRuns.at(-1)!.enqueueMs ?? 0)}`);
      aArrivalRuns.push(await queueScenario(h, batchSet, { queue: `bench-aa${rep}`, jobs: 'batch', arrival: true }));
      say(`(a) usage-batch, arriving, run ${rep}`, aArrivalRuns.at(-1)!, `; all added after ${fmtMs(aArrivalRuns.at(-1)!.enqueueMs ?? 0)}`);
    }
  }
  if (floorRuns.length) results.floor = series(floorRuns);
  if (sqlRuns.length) results.sqlCeiling = series(sqlRuns);
  if (aRuns.length) results.a = series(aRuns);
  if (aArrivalRuns.length) results.aArrival = series(aArrivalRuns);

  if (want('e')) {
    results.e = await queueScenario(h, batchSet, { queue: 'bench-ae', jobs: 'batch', withReads: true });
    say(`(e) reads during (a): p50 ${fmtMs(results.e.reads!.p50)}, p99 ${fmtMs(results.e.reads!.p99)} (n=${results.e.reads!.count}); (a) meanwhile`, results.e);
  }

  const noopRuns: ThroughputResult[] = [];
  const bRuns: QueueRunResult[] = [];
  const bArrivalRuns: QueueRunResult[] = [];
  for (let rep = 1; rep <= KNOBS.reps && (want('noop') || want('b')); rep++) {
    if (want('noop')) {
      noopRuns.push(await bullmqNoopCeiling(h, singleSet, rep));
      say(`ceiling 2 (BullMQ no-op) run ${rep}`, noopRuns.at(-1)!);
    }
    if (want('b')) {
      bRuns.push(await queueScenario(h, singleSet, { queue: `bench-b${rep}`, jobs: 'single' }));
      say(`(b) one job per event run ${rep}`, bRuns.at(-1)!, `; enqueue ${fmtMs(bRuns.at(-1)!.enqueueMs ?? 0)}`);
      bArrivalRuns.push(await queueScenario(h, singleSet, { queue: `bench-ba${rep}`, jobs: 'single', arrival: true }));
      say(`(b) one job per event, arriving, run ${rep}`, bArrivalRuns.at(-1)!, `; all added after ${fmtMs(bArrivalRuns.at(-1)!.enqueueMs ?? 0)}`);
    }
  }
  if (noopRuns.length) results.noopCeiling = series(noopRuns);
  if (bRuns.length) results.b = series(bRuns);
  if (bArrivalRuns.length) results.bArrival = series(bArrivalRuns);

  const cRuns: HttpRunResult[] = [];
  for (let rep = 1; rep <= KNOBS.reps && want('c'); rep++) {
    cRuns.push(await httpScenario(h, httpSet, rep));
    say(`(c) HTTP ingest run ${rep}`, cRuns.at(-1)!, `; all accepted after ${fmtMs(cRuns.at(-1)!.acceptedMs)}, ${cRuns.at(-1)!.billedWhenAccepted.toLocaleString('en-US')} billed by then`);
  }
  if (cRuns.length) results.c = series(cRuns);

  if (want('d')) {
    results.d = await freshnessScenario(h, ctx.run);
    log(`(d) freshness: p50 ${fmtMs(results.d.p50)}, p99 ${fmtMs(results.d.p99)}, max ${fmtMs(results.d.max)}`);
  }

  // (f) then (g): both on a past month of data written by SQL; (g) reuses (f)'s large month.
  let largeMonth: MonthData | undefined;
  if (want('invoices')) {
    const small = await invoiceScenario(h, { events: SIZES.invoiceSmallEvents, seed: 5 });
    const large = await invoiceScenario(h, { events: SIZES.invoiceLargeEvents, seed: 6 });
    largeMonth = large.data;
    results.invoices = { period: SIZES.invoicePeriod, via: 'POST /v1/invoices/generate to the API process', small, large, growth: large.median.ms / small.median.ms };
    log(`(f) invoice run: ${fmtS(small.median.ms)} with ${short(small.data.events)} events, ${fmtS(large.median.ms)} with ${short(large.data.events)}: growth ${results.invoices.growth.toFixed(2)} x`);
  }
  if (want('exports')) {
    let built: MonthData | undefined;
    if (!largeMonth) {
      await ctx.resetData(SIZES.accounts);
      built = largeMonth = await buildMonth(ctx, { period: SIZES.invoicePeriod, events: SIZES.invoiceLargeEvents, seed: 6 });
      log(`(g) month ${built.period}: ${built.events.toLocaleString('en-US')} events written in ${fmtS(built.buildMs)}`);
    }
    results.exports = { ...(await exportScenario(h, largeMonth.events)), data: built };
    const x = results.exports;
    log(`(g) export: ${fmtS(x.median.ms)} (${x.median.rowsPerSecond.toLocaleString('en-US')} rows/s), first byte ${fmtMs(x.firstByteMs)}, API peak RSS ${x.peakRssMB} MB`);
  }

  if (want('expiry')) {
    results.expiry = await expiryScenario(h);
    log(`(m) expiry: ${results.expiry.grants} grants ended ${fmtS(results.expiry.lastEndedMs)} after they expired (lag p99 ${fmtMs(results.expiry.lagMs.p99)})`);
  }
  if (want('liability')) {
    results.liability = await liabilityScenario(h);
    log(`(n) credit liability: report ${results.liability.reportMs.map((ms) => fmtS(ms)).join(', ')}; CSV ${results.liability.csvMs.map((ms) => fmtS(ms)).join(', ')}`);
  }
  if (want('k')) {
    results.crossing = await crossingScenario(h);
    log(`(k) threshold crossing -> webhook: p50 ${fmtMs(results.crossing.p50)}, p99 ${fmtMs(results.crossing.p99)}, max ${fmtMs(results.crossing.max)}`);
  }
  if (want('l')) {
    results.webhooks = await webhookThroughputScenario(h);
    log(`(l) ${results.webhooks.events} webhooks through one endpoint: ${fmtS(results.webhooks.ms)} (${results.webhooks.eventsPerSecond} webhooks/s), in order: ${results.webhooks.inOrder}`);
  }
  if (want('portal')) {
    results.portal = await portalScenario(h);
    log(`(o) portal: balance and chart shown ${fmtMs(results.portal.shownMs)} after navigation (balance ${fmtMs(results.portal.balanceMs)}, chart ${fmtMs(results.portal.chartMs)})`);
  }

  if (want('holds')) {
    results.holds = await holdsScenario(h);
    log(`(h) ${results.holds.spreadPerSecond}/s holds vs ${results.holds.balancePerSecond}/s balance reads; (i) ${results.holds.hotPerSecond}/s on one account`);
    results.holdsDuringIngest = await holdsDuringIngestScenario(h, batchSet);
    log(`(j) (a) with holds / (a) alone = ${results.holdsDuringIngest.ingestRatio.toFixed(2)}; holds p99 ${fmtMs(results.holdsDuringIngest.median.latency.p99)}`);
  }

  const runtimeS = (performance.now() - clock) / 1000;
  const rows = tableRows(results);
  const printed = table(rows);
  process.stdout.write(`\n${printed}\n\n`);
  const files = writeResults({
    startedAt,
    hostname: os.hostname(),
    markdown: markdown({ table: printed, system, results, runtimeS }),
    json: { startedAt: startedAt.toISOString(), runtimeS: Math.round(runtimeS), system, sizes: SIZES, knobs: KNOBS, targets: TARGETS, rows, results },
  });
  log(`wrote ${files.md} and ${files.json}`);
  if (process.env.BENCH_STRICT === '1' && rows.some((r) => r.pass === false)) exitCode = 2;
} catch (error) {
  log(`FAILED: ${(error as Error).stack ?? String(error)}`);
  exitCode = 1;
} finally {
  await cleanup();
}
log(`done in ${((performance.now() - clock) / 1000).toFixed(0)} s`);
process.exit(exitCode);
