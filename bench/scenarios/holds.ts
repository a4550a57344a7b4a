import pg from 'pg';
import { KNOBS, SIZES } from '../config.js';
import { accountId, type EventSet, prng } from '../events.js';
import { freePort, httpRequest } from '../http.js';
import { type Child, startApi, stopAll } from '../processes.js';
import { type LatencySummary, perSecond, sleep, summarize } from '../stats.js';
import { type Harness, startClock, type WindowNote } from './common.js';
import { queueScenario, type QueueRunResult } from './service.js';

/** Every account's credit in the holds rows: far more than the holds of a run take, so they keep fitting. */
const FUNDING = '1000';

export interface LoadResult {
  requests: number;
  ms: number;
  perSecond: number;
  latency: LatencySummary;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  window?: WindowNote;
  /** CPU ms per request during the timed window: of the API process, of Postgres (when nothing else used it) and of the bench's own process (its clients). */
  cpuMsPerRequest?: { api: number; postgres?: number; bench?: number };
}

export interface HoldsRunResult {
  balance: LoadResult;
  /** (h): across every account. */
  spread: LoadResult;
  /** (i): one hot account. */
  hot: LoadResult;
}

export interface HoldsResult {
  runs: HoldsRunResult[];
  /** Medians over the runs. */
  balancePerSecond: number;
  spreadPerSecond: number;
  hotPerSecond: number;
  /** The median run of (h) and of (i), for their latencies. */
  spread: LoadResult;
  hot: LoadResult;
  /** Holds the bench ended (released by SQL, as the worker's flush would settle them) during the runs. */
  ended: number;
  disturbed: boolean;
}

export interface HoldsDuringIngestResult {
  alone: QueueRunResult[];
  during: QueueRunResult[];
  /** The authorizations that ran during each (a) run, for its whole timed window. */
  holds: LoadResult[];
  /** Median (a) with authorizations / median (a) alone. */
  ingestRatio: number;
  /** The authorizations of the run with the median (a) throughput. */
  median: LoadResult;
  disturbed: boolean;
}

type Request = { method: 'GET' | 'POST'; path: string; body?: string };

/**
 * `inFlight` clients, each sending the next request as soon as its last is answered, until
 * `count` requests are sent (or, with count 0, until stop()). Every answer's status is counted;
 * one the row does not expect fails the row.
 */
class Load {
  readonly latencies: number[] = [];
  readonly statuses: Record<string, number> = {};
  private stopped = false;
  private sent = 0;
  private running?: Promise<void>;
  private startedAt = 0;
  private endedAt = 0;

  constructor(
    private readonly opts: {
      port: number;
      adminKey: string;
      inFlight: number;
      count: number;
      next: (i: number) => Request;
      expect: readonly number[];
      onAnswer?: (status: number, body: string) => void;
    },
  ) {}

  start(): void {
    this.startedAt = performance.now();
    const client = async () => {
      while (!this.stopped && (this.opts.count === 0 || this.sent < this.opts.count)) {
        const request = this.opts.next(this.sent++);
        const sent = performance.now();
        const response = await httpRequest({ port: this.opts.port, ...request, headers: { authorization: `Bearer ${this.opts.adminKey}` } });
        this.latencies.push(performance.now() - sent);
        this.statuses[response.status] = (this.statuses[response.status] ?? 0) + 1;
        if (!this.opts.expect.includes(response.status)) throw new Error(`${request.method} ${request.path} answered ${response.status}: ${response.body.slice(0, 300)}`);
        this.opts.onAnswer?.(response.status, response.body);
      }
    };
    this.running = Promise.all(Array.from({ length: this.opts.inFlight }, client)).then(() => {
      this.endedAt = performance.now();
    });
  }

  /** Until every request is answered (count > 0), or stops the clients now (count 0). */
  async done(): Promise<Omit<LoadResult, 'window'>> {
    if (this.opts.count === 0) this.stopped = true;
    await this.running;
    const ms = this.endedAt - this.startedAt;
    return { requests: this.latencies.length, ms, perSecond: perSecond(this.latencies.length, ms), latency: summarize(this.latencies), statuses: this.statuses };
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.running ?? Promise.resolve();
  }
}

/**
 * A gateway ends its holds within seconds (the usage event settles it, or it is released), and
 * an ended hold stays in `holds` until it would have expired. The bench plays that part: every
 * 100 ms it releases, in one statement, the holds answered 201 since its last pass, as the
 * worker's flush settles holds in bulk, so hot accounts carry ended holds like in production.
 */
class HoldEnder {
  private granted: string[] = [];
  private stopped = false;
  private loop?: Promise<void>;
  ended = 0;

  private constructor(private readonly client: pg.Client) {}

  static async open(databaseUrl: string): Promise<HoldEnder> {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'billing-bench-hold-ender' });
    await client.connect();
    return new HoldEnder(client);
  }

  onAnswer = (status: number, body: string): void => {
    if (status === 201) this.granted.push((JSON.parse(body) as { hold_id: string }).hold_id);
  };

  start(): void {
    this.stopped = false;
    this.loop = (async () => {
      while (!this.stopped) {
        await sleep(100);
        await this.flush();
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    await this.flush();
  }

  private async flush(): Promise<void> {
    if (!this.granted.length) return;
    const ids = this.granted;
    this.granted = [];
    const { rowCount } = await this.client.query(
      "INSERT INTO hold_ends (hold_id, kind) SELECT unnest($1::text[]), 'released' ON CONFLICT (hold_id) DO NOTHING",
      [ids],
    );
    this.ended += rowCount ?? 0;
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

/** POST /v1/accounts/{id}/holds by estimate, as a gateway authorizes a request: its prompt and all of its max_tokens. */
function holdRequests(run: string, tag: string, account: (random: () => number) => string, seed: number): (i: number) => Request {
  const random = prng(seed);
  return (i) => ({
    method: 'POST',
    path: `/v1/accounts/${account(random)}/holds`,
    body: JSON.stringify({
      hold_id: `bh-${run}-${tag}-${i}`,
      estimate: { model: 'qwen3-5-4b', input_tokens: 50 + Math.floor(random() * 7951), max_output_tokens: 1 + Math.floor(random() * 4096) },
    }),
  });
}

const cpuPerRequest = (window: WindowNote, requests: number) => {
  const per = (role: string) => Math.round((((window.interference.cpu[role] ?? 0) * 1000) / requests) * 1000) / 1000;
  return { api: per('api'), postgres: per('postgres'), bench: per('bench') };
};

const anyAccount = (random: () => number) => accountId(Math.floor(random() * SIZES.accounts));
const HOT = accountId(0);

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
const medianRun = <T>(runs: T[], rate: (run: T) => number): T => [...runs].sort((a, b) => rate(a) - rate(b))[Math.floor((runs.length - 1) / 2)];
const isDisturbed = (w?: WindowNote) => !!w && (!w.quiet || w.interference.share >= 0.05);

/**
 * (h) and (i), with their yardstick, on one API process: per run, GET /v1/accounts/{id}/balance
 * of random accounts, then holds on random accounts (h), then holds on one account (i), each
 * `SIZES.holdsRequests` requests with their own number in flight and a clock of its own.
 */
export async function holdsScenario(h: Harness): Promise<HoldsResult> {
  await h.ctx.resetData(SIZES.accounts);
  await h.ctx.fund(FUNDING);
  const queue = h.ctx.queue('bench-holds');
  const env = h.ctx.serviceEnv(queue.name, KNOBS.logLevel);
  const ender = await HoldEnder.open(h.ctx.databaseUrl);
  const children: Child[] = [];
  try {
    const port = await freePort();
    children.push(await startApi(env, port, KNOBS.cpuProfDir));
    const run = async (opts: { inFlight: number; count: number; next: (i: number) => Request; expect: number[]; holds: boolean }): Promise<LoadResult> => {
      const load = new Load({ port, adminKey: h.ctx.adminKey, ...opts, onAnswer: opts.holds ? ender.onAnswer : undefined });
      const clock = await startClock(h);
      if (opts.holds) ender.start();
      load.start();
      const result = await load.done();
      const { window } = clock.stop();
      if (opts.holds) await ender.stop();
      return { ...result, window, cpuMsPerRequest: cpuPerRequest(window, result.requests) };
    };
    const balances = (seed: number) => {
      const random = prng(seed);
      return (): Request => ({ method: 'GET', path: `/v1/accounts/${anyAccount(random)}/balance` });
    };
    // Warm-up: the JIT, the pool's connections, the plans.
    await run({ inFlight: SIZES.holdsInFlight, count: 500, next: balances(1), expect: [200], holds: false });
    await run({ inFlight: SIZES.holdsInFlight, count: 500, next: holdRequests(h.ctx.run, 'warm', anyAccount, 2), expect: [201, 402], holds: true });

    const runs: HoldsRunResult[] = [];
    for (let rep = 1; rep <= KNOBS.reps; rep++) {
      const balance = await run({ inFlight: SIZES.holdsInFlight, count: SIZES.holdsRequests, next: balances(10 + rep), expect: [200], holds: false });
      const spread = await run({ inFlight: SIZES.holdsInFlight, count: SIZES.holdsRequests, next: holdRequests(h.ctx.run, `h${rep}`, anyAccount, 20 + rep), expect: [201, 402], holds: true });
      const hot = await run({ inFlight: SIZES.holdsHotInFlight, count: SIZES.holdsRequests, next: holdRequests(h.ctx.run, `i${rep}`, () => HOT, 30 + rep), expect: [201, 402], holds: true });
      runs.push({ balance, spread, hot });
      const said = (x: LoadResult) =>
        `${x.perSecond}/s (p50 ${x.latency.p50} ms, p99 ${x.latency.p99} ms, ${x.statuses[402] ?? 0} x 402; CPU per request: api ${x.cpuMsPerRequest!.api} ms, postgres ${x.cpuMsPerRequest!.postgres!} ms, the bench's clients ${x.cpuMsPerRequest!.bench!} ms)`;
      h.log(`(h)/(i) run ${rep}: GET balance ${said(balance)}; holds across accounts ${said(spread)}; one account ${said(hot)}`);
    }
    await stopAll(children);
    return {
      runs,
      balancePerSecond: median(runs.map((r) => r.balance.perSecond)),
      spreadPerSecond: median(runs.map((r) => r.spread.perSecond)),
      hotPerSecond: median(runs.map((r) => r.hot.perSecond)),
      spread: medianRun(runs, (r) => r.spread.perSecond).spread,
      hot: medianRun(runs, (r) => r.hot.perSecond).hot,
      ended: ender.ended,
      disturbed: runs.every((r) => [r.balance, r.spread, r.hot].some((x) => isDisturbed(x.window))),
    };
  } finally {
    await stopAll(children);
    await ender.close();
    await h.ctx.dropQueue(queue);
  }
}

/**
 * (j): row (a) alone, then row (a) again with the API up and (h)'s authorizations running for its
 * whole timed window, back to back, `KNOBS.reps` times; every account funded the same in both.
 */
export async function holdsDuringIngestScenario(h: Harness, set: EventSet): Promise<HoldsDuringIngestResult> {
  const alone: QueueRunResult[] = [];
  const during: QueueRunResult[] = [];
  const holds: LoadResult[] = [];
  for (let rep = 1; rep <= KNOBS.reps; rep++) {
    alone.push(await queueScenario(h, set, { queue: `bench-j-alone${rep}`, jobs: 'batch', funding: FUNDING }));
    const ender = await HoldEnder.open(h.ctx.databaseUrl);
    let load: Load | undefined;
    try {
      const run = await queueScenario(h, set, {
        queue: `bench-j-holds${rep}`,
        jobs: 'batch',
        funding: FUNDING,
        alongside: (port) => {
          load = new Load({
            port,
            adminKey: h.ctx.adminKey,
            inFlight: SIZES.holdsInFlight,
            count: 0,
            next: holdRequests(h.ctx.run, `j${rep}`, anyAccount, 40 + rep),
            expect: [201, 402],
            onAnswer: ender.onAnswer,
          });
          return {
            start: () => {
              ender.start();
              load!.start();
            },
            stop: async () => {
              await load!.stop();
              await ender.stop();
            },
          };
        },
      });
      during.push(run);
      const done = await load!.done();
      // Postgres served the ingest too in this window: only the API's CPU is the authorizations' alone.
      holds.push({ ...done, window: run.window, cpuMsPerRequest: run.window ? { api: cpuPerRequest(run.window, done.requests).api } : undefined });
    } finally {
      await load?.stop();
      await ender.close();
    }
    const x = holds.at(-1)!;
    h.log(`(j) run ${rep}: (a) alone ${alone.at(-1)!.eventsPerSecond} events/s, with holds ${during.at(-1)!.eventsPerSecond} events/s; holds meanwhile ${x.requests} (${x.perSecond}/s, p99 ${x.latency.p99} ms, ${x.statuses[402] ?? 0} x 402)`);
  }
  const aloneRate = median(alone.map((r) => r.eventsPerSecond));
  const duringRate = median(during.map((r) => r.eventsPerSecond));
  const middle = medianRun(
    during.map((r, i) => ({ r, i })),
    (x) => x.r.eventsPerSecond,
  ).i;
  return {
    alone,
    during,
    holds,
    ingestRatio: duringRate / aloneRate,
    median: holds[middle],
    disturbed: [...alone, ...during].every((r) => isDisturbed(r.window)),
  };
}
