/**
 * Sizes, targets and knobs of `npm run bench`. Every size can be overridden from the environment
 * (BENCH_*), e.g. `BENCH_BATCH_EVENTS=50000 npm run bench` for a quick look; the committed
 * defaults are the ones the issue asks for, tuned so the whole run takes 3-6 minutes on 2 cores.
 */
const int = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return value;
};

export const SIZES = {
  /** Accounts every scenario spreads its events over. */
  accounts: int('BENCH_ACCOUNTS', 1000),
  /** (a) and ceiling 1: events, in usage-batch jobs / transactions of batchSize. */
  batchEvents: int('BENCH_BATCH_EVENTS', 200_000),
  batchSize: 1000,
  /** (b) and ceiling 2: single-event jobs. */
  singleEvents: int('BENCH_SINGLE_EVENTS', 50_000),
  /** (c): events posted over HTTP in 1000-event requests, this many in flight. */
  httpEvents: int('BENCH_HTTP_EVENTS', 100_000),
  httpInFlight: int('BENCH_HTTP_IN_FLIGHT', 6),
  /** (d): sequential samples on an idle service, with this pause between them. */
  freshnessSamples: int('BENCH_FRESHNESS_SAMPLES', 60),
  freshnessPauseMs: int('BENCH_FRESHNESS_PAUSE_MS', 50),
  freshnessPollMs: 2,
  /** (e): one client reading balances in a loop during (a), pausing this long between reads. */
  readPauseMs: int('BENCH_READ_PAUSE_MS', 5),
  /** Jobs per addBulk call: 1000 for single-event jobs; batch jobs (~250 KB each) go 20 at a time. */
  addBulkJobs: 1000,
  addBulkBatchJobs: 20,
  /** (f) invoice run: events in the invoiced month, the small and the large data set (exports reuse the large one). */
  invoiceSmallEvents: int('BENCH_INVOICE_SMALL_EVENTS', 100_000),
  invoiceLargeEvents: int('BENCH_INVOICE_LARGE_EVENTS', 1_000_000),
  /** (f) the month the data is put in and invoiced: a past month, YYYY-MM. */
  invoicePeriod: process.env.BENCH_INVOICE_PERIOD || '2026-10',
  /** (m) grants that all expire at the same instant, and how many each account has. */
  expiryGrants: int('BENCH_EXPIRY_GRANTS', 100_000),
  expiryGrantsPerAccount: Math.max(3, int('BENCH_EXPIRY_GRANTS_PER_ACCOUNT', 10)),
  /** (n) accounts with a month of grants, usage and expiries in the credit liability report. */
  liabilityAccounts: int('BENCH_LIABILITY_ACCOUNTS', 10_000),
  /** (g) the API process's RSS is read this often during the export. */
  exportRssSampleMs: int('BENCH_EXPORT_RSS_SAMPLE_MS', 50),
  /** (o) the portal account: days of hourly usage rollups, and ledger entries. */
  portalDays: int('BENCH_PORTAL_DAYS', 365),
  portalLedgerEntries: int('BENCH_PORTAL_LEDGER_ENTRIES', 10_000),
  /** (k) threshold crossings, one at a time on an idle service, with this pause between them. */
  crossingSamples: int('BENCH_CROSSING_SAMPLES', 60),
  crossingPauseMs: int('BENCH_CROSSING_PAUSE_MS', 50),
  /** (l) outbox events through one endpoint, over this many accounts. */
  webhookEvents: int('BENCH_WEBHOOK_EVENTS', 10_000),
  webhookAccounts: int('BENCH_WEBHOOK_ACCOUNTS', 100),
  /** (h), (i) and their yardstick (GET balance): requests per run; in flight across the accounts, and on the one hot account. */
  holdsRequests: int('BENCH_HOLDS_REQUESTS', 10_000),
  holdsInFlight: int('BENCH_HOLDS_IN_FLIGHT', 32),
  holdsHotInFlight: int('BENCH_HOLDS_HOT_IN_FLIGHT', 64),
} as const;

export const KNOBS = {
  /** Repetitions of each throughput measurement (ceiling and scenario alternating); the table shows medians. */
  reps: Math.max(1, int('BENCH_REPS', 3)),
  /** Concurrency of ceiling 2's BullMQ no-op worker. */
  noopConcurrency: Math.max(1, int('BENCH_NOOP_CONCURRENCY', 512)),
  /** WORKER_FLUSH_LANES of the service workers (the service's default when 0). */
  flushLanes: int('BENCH_FLUSH_LANES', 0),
  /** Worker processes for every scenario that runs the service worker. */
  workers: int('BENCH_WORKERS', 1),
  /** Settle poll interval. */
  settlePollMs: int('BENCH_SETTLE_POLL_MS', 20),
  /** Give up on a scenario after this long. */
  scenarioTimeoutMs: int('BENCH_SCENARIO_TIMEOUT_MS', 180_000),
  /** LOG_LEVEL of the service processes; `info` also collects the worker's "flush committed" lines. */
  logLevel: process.env.BENCH_LOG_LEVEL || 'warn',
  /** When set, the worker runs with --cpu-prof and writes its profiles into this directory. */
  cpuProfDir: process.env.BENCH_CPU_PROF_DIR || '',
  /** Run only these scenarios (comma separated ids: floor,sql,noop,a,e,b,c,d,invoices,exports,portal,expiry,liability,k,l,holds); all when empty. */
  only: (process.env.BENCH_ONLY || '').split(',').map((s) => s.trim()).filter(Boolean),
} as const;

/** The targets on a 2-core machine. */
export const TARGETS = {
  /** (a), (b) and (c) as ratios to ceiling 0, the floor. */
  floorBatchRatio: 0.35,
  floorSingleRatio: 0.3,
  floorHttpRatio: 0.3,
  batchRatio: 0.7,
  singleRatio: 0.6,
  httpEventsPerSecond: 20_000,
  freshnessP99Ms: 250,
  readP99Ms: 20,
  /** (f) invoice run for 1000 accounts, at each data size, and its growth from the small to the large one. */
  invoiceSeconds: 10,
  invoiceGrowth: 1.5,
  /** (g) usage.csv export of the large data set. */
  exportSeconds: 10,
  exportFirstByteMs: 1000,
  exportPeakRssMB: 200,
  /** (m) every one of 100k grants expiring at once has ended within this. */
  expirySeconds: 60,
  /** (n) the credit liability report of 10k accounts, and its CSV. */
  liabilityReportSeconds: 5,
  liabilityCsvSeconds: 10,
  /** (o) the portal shows balance and chart within this long of navigation. */
  portalShownMs: 1000,
  /** (k) a threshold crossing reaches the receiver within this (p99), on an idle service. */
  crossingDeliveryP99Ms: 1000,
  /** (h) authorizations across 1000 accounts as a ratio to GET balance of the same API, and their p99. */
  holdsRatio: 0.5,
  holdsP99Ms: 15,
  /** (i) one hot account, as a ratio to (h). */
  hotHoldsRatio: 0.5,
  /** (j) (a) with (h) running, as a ratio to (a) alone (within 15%), and the authorizations' p99 meanwhile. */
  ingestWithHoldsRatio: 0.85,
  holdsDuringIngestP99Ms: 25,
} as const;

/** Price of qwen3-5-4b in rate card version 1, per million tokens (the bench checks the DB agrees). */
export const PRICES = { model: 'qwen3-5-4b', input: '0.04', cachedInput: '0.02', output: '0.07', rateCardVersion: 1 } as const;
export const ENDPOINT = '/v1/chat/completions';
