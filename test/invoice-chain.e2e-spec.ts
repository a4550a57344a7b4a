import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { Decimal } from 'decimal.js';
import fc from 'fast-check';
import { DataSource } from 'typeorm';
import { ADMIN, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, credit, eventId, uniqueId } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';

/*
 * A property test of the invoice chain against the real service: random sequences of usage (much of
 * it late), credits, invoice runs, finalizations, voids and reissues over the last six months, for
 * two accounts. A model written here, event by event and independently of the service's code,
 * says what every invoice must hold after each step; the database must agree, and the chain must
 * hold: each priced event on at most one live invoice (on exactly one once a run has seen it), each
 * opening at the previous closing, and the usage on live invoices equal to the priced events up to
 * the last invoiced month, less those still waiting for a run.
 *
 * The months are the five before the current one (over, so they can be finalized) and the current
 * one (started, so it can be invoiced; not over, so it cannot be finalized). Credits are made now,
 * so they fall in the current month.
 */

// Its own database: every run empties the billing tables.
const USAGE_QUEUE = uniqueQueueName();
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;
let db: DataSource;

beforeAll(async () => {
  scratch = await scratchDatabase();
  api = await startApi({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  worker = await startWorker({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  queue = producer(USAGE_QUEUE);
  db = api.app.get(DataSource);
});
afterAll(async () => {
  await queue?.close();
  await worker?.close();
  await api?.close();
  await scratch?.drop();
});

// ---------------------------------------------------------------------------------------------
// Months, prices

const NOW = new Date();
const MONTHS = [5, 4, 3, 2, 1, 0].map((back) => new Date(Date.UTC(NOW.getUTCFullYear(), NOW.getUTCMonth() - back, 1)));
const CURRENT = MONTHS.length - 1;
const periodOf = (i: number) => MONTHS[i].toISOString().slice(0, 7);
const monthEnd = (i: number) => new Date(Date.UTC(MONTHS[i].getUTCFullYear(), MONTHS[i].getUTCMonth() + 1, 1));
/** The launch prices, per million tokens. */
const PRICE = { input: new Decimal('0.04'), cached_input: new Decimal('0.02'), output: new Decimal('0.07') };
const CLASSES = ['input', 'cached_input', 'output'] as const;
type TokenClass = (typeof CLASSES)[number];
const ZERO = new Decimal(0);
const sum = (values: Decimal[]) => values.reduce((a, b) => a.add(b), ZERO);
const same = (a: Decimal.Value, b: Decimal.Value) => new Decimal(a).toFixed() === new Decimal(b).toFixed();

// ---------------------------------------------------------------------------------------------
// The model

interface ModelEvent {
  account: number;
  month: number;
  tokens: Record<TokenClass, number>;
  cost: Decimal;
  /** The live invoice that bills it, or null while it waits for an invoice run. */
  on: ModelInvoice | null;
}

interface ModelInvoice {
  account: number;
  month: number;
  number: string;
  status: 'draft' | 'finalized' | 'void';
  opening: Decimal;
  credits: Decimal;
  /** The events its lines bill, as of its last build. */
  billed: ModelEvent[];
}

class Model {
  readonly events: ModelEvent[] = [];
  readonly invoices: ModelInvoice[] = [];
  /** Credit amounts per account, per month made in. */
  readonly credits: Decimal[][][] = [[], []].map(() => MONTHS.map(() => []));
  private readonly counters = MONTHS.map(() => 0);

  usage = (i: ModelInvoice) => sum(i.billed.map((e) => e.cost));
  closing = (i: ModelInvoice) => i.opening.add(i.credits).sub(this.usage(i));
  live = (account: number) => this.invoices.filter((i) => i.account === account && i.status !== 'void').sort((a, b) => a.month - b.month);
  liveAt = (account: number, month: number) => this.live(account).find((i) => i.month === month);
  private creditsIn = (account: number, month: number) => sum(this.credits[account][month]);
  private creditsBefore = (account: number, month: number) => sum(MONTHS.slice(0, month).map((_, m) => this.creditsIn(account, m)));
  /** Drafts after the account's newest finalized invoice: the only ones that carry usage. */
  private openMonths(account: number, extra?: number): number[] {
    const live = this.live(account);
    const lastFinalized = Math.max(-1, ...live.filter((i) => i.status === 'finalized').map((i) => i.month));
    const months = live.filter((i) => i.status === 'draft' && i.month > lastFinalized).map((i) => i.month);
    return [...months, ...(extra === undefined ? [] : [extra])].sort((a, b) => a - b);
  }
  private unbilled = (account: number) => this.events.filter((e) => e.account === account && e.on?.status !== 'finalized');

  /** All the account's drafts rebuilt: unbilled events to the first open draft of their month or later, openings from the ledger. */
  rebuild(account: number): void {
    const live = this.live(account);
    const open = this.openMonths(account);
    for (const draft of live.filter((i) => i.status === 'draft')) draft.billed = [];
    for (const event of this.unbilled(account)) {
      const owner = open.find((m) => m >= event.month);
      event.on = owner === undefined ? null : this.liveAt(account, owner)!;
      event.on?.billed.push(event);
    }
    let billedBefore = ZERO;
    for (const invoice of live) {
      if (invoice.status === 'draft') {
        invoice.opening = this.creditsBefore(account, invoice.month).sub(billedBefore);
        invoice.credits = this.creditsIn(account, invoice.month);
      }
      billedBefore = billedBefore.add(this.usage(invoice));
    }
  }

  /** What POST /v1/invoices/generate answers, with the model moved on. */
  generate(month: number, accountIds: string[]) {
    const included = [0, 1].filter((account) => {
      const live = this.live(account);
      if (live.some((i) => i.month === month && i.status === 'finalized')) return false;
      if (live.some((i) => i.month === month) || this.credits[account][month].length > 0) return true;
      if (live.some((i) => i.status === 'finalized' && i.month > month)) return false;
      const open = this.openMonths(account, month);
      return this.unbilled(account).some((e) => open.find((m) => m >= e.month) === month);
    });
    const fresh = included.filter((account) => !this.liveAt(account, month)).sort((a, b) => accountIds[a].localeCompare(accountIds[b]));
    for (const account of fresh) {
      const number = `INV-${periodOf(month)}-${String(++this.counters[month]).padStart(6, '0')}`;
      this.invoices.push({ account, month, number, status: 'draft', opening: ZERO, credits: ZERO, billed: [] });
    }
    included.forEach((account) => this.rebuild(account));
    return { period: periodOf(month), accounts: included.length, created: fresh.length, refreshed: included.length - fresh.length };
  }

  /** The status POST .../finalize answers, with the model moved on. */
  finalize(invoice: ModelInvoice): number {
    if (invoice.status === 'finalized') return 200;
    const previous = this.live(invoice.account).filter((i) => i.month < invoice.month).at(-1);
    if (invoice.month === CURRENT || previous?.status === 'draft') return 409;
    this.rebuild(invoice.account);
    invoice.status = 'finalized';
    return 200;
  }

  /** The status POST .../void answers, with the model moved on. */
  void(invoice: ModelInvoice): number {
    if (invoice.status === 'draft' || this.live(invoice.account).some((i) => i.status === 'finalized' && i.month > invoice.month)) return 409;
    invoice.status = 'void';
    this.rebuild(invoice.account);
    return 200;
  }
}

// ---------------------------------------------------------------------------------------------
// Steps

const eventArb = fc.record({
  account: fc.constantFrom(0, 1),
  month: fc.integer({ min: 0, max: CURRENT }),
  at: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
  prompt: fc.integer({ min: 1, max: 200_000 }),
  cachedShare: fc.constantFrom(0, 0, 0.25, 1),
  completion: fc.integer({ min: 0, max: 20_000 }),
});
type EventSpec = typeof eventArb extends fc.Arbitrary<infer T> ? T : never;
/** Which live invoice a lifecycle step acts on (an index into the first account's, then the second's, oldest first). */
const pick = { pick: fc.nat() };
const stepArb = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('usage' as const), events: fc.array(eventArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('credit' as const), account: fc.constantFrom(0, 1), cents: fc.integer({ min: 1, max: 5000 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('generate' as const), month: fc.integer({ min: 0, max: CURRENT }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('finalize' as const), ...pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void' as const), ...pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('void and regenerate' as const), ...pick }) },
);
type Step = typeof stepArb extends fc.Arbitrary<infer T> ? T : never;

class Run {
  readonly model = new Model();
  constructor(readonly accounts: string[]) {}

  static async start(): Promise<Run> {
    await db.query(`TRUNCATE usage_events, usage_rollups, usage_rollups_monthly, rejected_events, invoice_counters, accounts CASCADE`);
    const prefix = uniqueId('chain');
    const accounts = [`${prefix}-a`, `${prefix}-b`];
    for (const account_id of accounts) await createAccount(api, { account_id });
    return new Run(accounts);
  }

  async step(step: Step): Promise<void> {
    switch (step.kind) {
      case 'usage':
        return this.usage(step.events);
      case 'credit': {
        const amount = new Decimal(step.cents).div(100);
        const entry = await credit(api, this.accounts[step.account], amount.toFixed());
        const month = MONTHS.findIndex((start, i) => new Date(entry.created_at) >= start && new Date(entry.created_at) < monthEnd(i));
        if (month < 0) throw new Error(`credit made at ${entry.created_at}, outside the months under test (the month turned during the run?)`);
        this.model.credits[step.account][month].push(amount);
        return;
      }
      case 'generate':
        return this.generate(step.month);
      case 'finalize':
      case 'void':
      case 'void and regenerate': {
        // Voids mostly aim at finalized invoices (a draft's void is refused either way).
        const live = [...this.model.live(0), ...this.model.live(1)];
        const finalized = live.filter((i) => i.status === 'finalized');
        const candidates = step.kind !== 'finalize' && finalized.length ? finalized : live;
        if (!candidates.length) return;
        const invoice = candidates[step.pick % candidates.length];
        const [{ invoice_id }] = await db.query('SELECT invoice_id FROM invoices WHERE number = $1', [invoice.number]);
        const action = step.kind === 'finalize' ? 'finalize' : 'void';
        const expected = action === 'finalize' ? this.model.finalize(invoice) : this.model.void(invoice);
        const res = await api.http().post(`/v1/invoices/${invoice_id}/${action}`).set(ADMIN);
        expect(res.status).toBe(expected);
        if (expected === 409) expect(res.body.detail).toEqual(expect.any(String));
        if (step.kind === 'void and regenerate' && expected === 200) return this.generate(invoice.month);
      }
    }
  }

  private async usage(specs: EventSpec[]): Promise<void> {
    const now = Date.now();
    const events = specs.map((spec) => {
      const start = MONTHS[spec.month].getTime();
      const end = Math.min(monthEnd(spec.month).getTime(), now);
      const cached = Math.floor(spec.prompt * spec.cachedShare);
      const tokens = { input: spec.prompt - cached, cached_input: cached, output: spec.completion };
      const cost = sum(CLASSES.map((c) => PRICE[c].mul(tokens[c]))).div(1_000_000);
      this.model.events.push({ account: spec.account, month: spec.month, tokens, cost, on: null });
      return {
        event_id: eventId(),
        account_id: this.accounts[spec.account],
        model: 'qwen3-5-4b',
        endpoint: '/v1/chat/completions',
        occurred_at: new Date(start + Math.floor(spec.at * (end - start))).toISOString(),
        usage: { prompt_tokens: spec.prompt, completion_tokens: spec.completion, prompt_tokens_details: { cached_tokens: cached } },
      };
    });
    await queue.add('usage-batch', { events });
    await drained(queue);
  }

  private async generate(month: number): Promise<void> {
    const expected = this.model.generate(month, this.accounts);
    const res = await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period: periodOf(month) });
    expect([res.status, res.body]).toEqual([200, expected]);
  }

  /** Invoices the current month, then every month with a draft: afterwards no event waits. */
  async settle(): Promise<void> {
    await this.generate(CURRENT);
    for (let month = 0; month < MONTHS.length; month++) {
      if ([0, 1].some((account) => this.model.liveAt(account, month)?.status === 'draft')) await this.generate(month);
    }
    expect(this.model.events.filter((e) => !e.on)).toEqual([]);
  }

  /** The database against the model, and the chain's laws. */
  async check(): Promise<void> {
    const { model, accounts } = this;
    const invoices: { number: string; account_id: string; period: string; status: string; opening: string; credits: string; usage: string; closing: string }[] = await db.query(
      `SELECT number, account_id, to_char(period, 'YYYY-MM') AS period, status, opening_balance::text AS opening, credits_total::text AS credits,
         usage_total::text AS usage, closing_balance::text AS closing
       FROM invoices WHERE account_id = ANY($1) ORDER BY number`,
      [accounts],
    );
    const lines: { number: string; usage_period: string; token_class: TokenClass; tokens: string; amount: string }[] = await db.query(
      `SELECT i.number, to_char(l.usage_period, 'YYYY-MM') AS usage_period, l.token_class, l.tokens::text AS tokens, l.amount::text AS amount
       FROM invoice_lines l JOIN invoices i USING (invoice_id) WHERE i.account_id = ANY($1)`,
      [accounts],
    );
    const priced: { account_id: string; month: string; input: string; cached_input: string; output: string; cost: string; events: number }[] = await db.query(
      `SELECT account_id, to_char(date_trunc('month', occurred_at, 'UTC'), 'YYYY-MM') AS month, sum(input_tokens)::text AS input,
         sum(cached_input_tokens)::text AS cached_input, sum(output_tokens)::text AS output, sum(cost)::text AS cost, count(*)::int AS events
       FROM usage_events WHERE account_id = ANY($1) GROUP BY 1, 2`,
      [accounts],
    );
    expect(priced.reduce((n, p) => n + p.events, 0)).toBe(model.events.length);

    // Every invoice, void ones too, as the model has it: status, balances and lines.
    const text = (d: Decimal) => d.toFixed();
    expect(invoices.map((i) => ({ ...i, opening: text(new Decimal(i.opening)), credits: text(new Decimal(i.credits)), usage: text(new Decimal(i.usage)), closing: text(new Decimal(i.closing)) }))).toEqual(
      [...model.invoices]
        .sort((a, b) => (a.number < b.number ? -1 : 1))
        .map((i) => ({ number: i.number, account_id: accounts[i.account], period: periodOf(i.month), status: i.status, opening: text(i.opening), credits: text(i.credits), usage: text(model.usage(i)), closing: text(model.closing(i)) })),
    );
    const lineKey = (number: string, period: string, tokenClass: string) => `${number} ${period} ${tokenClass}`;
    const expectedLines = new Map<string, number>();
    for (const invoice of model.invoices) {
      for (const event of invoice.billed) {
        for (const c of CLASSES) {
          const key = lineKey(invoice.number, periodOf(event.month), c);
          if (event.tokens[c] > 0) expectedLines.set(key, (expectedLines.get(key) ?? 0) + event.tokens[c]);
        }
      }
    }
    expect(new Map(lines.map((l) => [lineKey(l.number, l.usage_period, l.token_class), Number(l.tokens)]))).toEqual(expectedLines);
    for (const line of lines) expect(same(line.amount, PRICE[line.token_class].mul(line.tokens).div(1_000_000))).toBe(true);

    for (const [a, accountId] of accounts.entries()) {
      const live = invoices.filter((i) => i.account_id === accountId && i.status !== 'void').sort((x, y) => (x.period < y.period ? -1 : 1));
      const liveNumbers = new Set(live.map((i) => i.number));
      // Each priced token on at most one live invoice, and on exactly one once an invoice run has seen it.
      for (const p of priced.filter((row) => row.account_id === accountId)) {
        for (const c of CLASSES) {
          const billed = lines.filter((l) => liveNumbers.has(l.number) && l.usage_period === p.month && l.token_class === c).reduce((n, l) => n + Number(l.tokens), 0);
          const seen = model.events.filter((e) => e.account === a && periodOf(e.month) === p.month && e.on).reduce((n, e) => n + e.tokens[c], 0);
          expect(billed).toBeLessThanOrEqual(Number(p[c]));
          expect(billed).toBe(seen);
        }
      }
      // Each live invoice opens where the previous one closed (the first at the credits before its month, none here).
      live.forEach((invoice, k) => expect([invoice.number, text(new Decimal(invoice.opening))]).toEqual([invoice.number, k === 0 ? '0' : text(new Decimal(live[k - 1].closing))]));
      // Σ usage on live invoices = Σ priced events up to the last invoiced month, less those still waiting.
      const last = live.at(-1)?.period ?? '';
      const pricedUpTo = sum(priced.filter((p) => p.account_id === accountId && p.month <= last).map((p) => new Decimal(p.cost)));
      const waiting = sum(model.events.filter((e) => e.account === a && !e.on && periodOf(e.month) <= last).map((e) => e.cost));
      expect(text(sum(live.map((i) => new Decimal(i.usage))))).toBe(text(pricedUpTo.sub(waiting)));
    }

    const report = (await api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body;
    expect(report.discrepancies).toEqual([]);
    expect(report.ok).toBe(true);
  }
}

describe('the invoice chain', () => {
  it(
    'keeps every priced event on exactly one live invoice and every opening at the previous closing, through any sequence of late usage, runs, finalizations, voids and reissues',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(stepArb, { minLength: 8, maxLength: 24 }), async (steps) => {
          const run = await Run.start();
          for (const step of steps) {
            await run.step(step);
            await run.check();
          }
          await run.settle();
          await run.check();
        }),
        { numRuns: 25 },
      );
    },
    240_000,
  );
});
