import pg from 'pg';
import { Money } from '@app/billing';

export interface SettleCheck {
  /** Accounts whose balance equals the expected value. */
  matching: number;
  accounts: number;
  /** usage_events rows; counted only once every balance matches (null before). */
  events: number | null;
}

/**
 * Decides when a scenario is settled: every account's balance equals the value the bench computed
 * on its own, exactly, and usage_events holds every event sent. The expected balances sit in a
 * temporary table of this connection, so one poll is one small aggregate query; the count of
 * usage_events is an InitPlan that Postgres runs only when every balance already matches.
 */
export class Settler {
  private expectedEvents = 0;
  private expected = new Map<string, Money>();

  private constructor(private readonly client: pg.Client) {}

  static async open(databaseUrl: string): Promise<Settler> {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'billing-bench-settle' });
    await client.connect();
    await client.query('CREATE TEMP TABLE bench_expected (account_id text PRIMARY KEY, expected numeric(38,18) NOT NULL)');
    return new Settler(client);
  }

  async expect(expected: Map<string, Money>, events: number): Promise<void> {
    this.expected = expected;
    this.expectedEvents = events;
    await this.client.query('TRUNCATE bench_expected');
    await this.client.query('INSERT INTO bench_expected SELECT * FROM unnest($1::text[], $2::numeric[])', [
      [...expected.keys()],
      [...expected.values()].map((m) => m.toFixed()),
    ]);
    await this.client.query('ANALYZE bench_expected');
  }

  async check(): Promise<SettleCheck> {
    const { rows } = await this.client.query(
      `WITH m AS (
         SELECT count(*) FILTER (WHERE b.balance = e.expected)::int AS matching, count(*)::int AS accounts
         FROM bench_expected e LEFT JOIN account_balances b USING (account_id)
       )
       SELECT matching, accounts, CASE WHEN matching = accounts THEN (SELECT count(*)::int FROM usage_events) END AS events FROM m`,
    );
    return rows[0] as SettleCheck;
  }

  /**
   * Polls every pollMs until settled; returns performance.now() at the first poll that saw it
   * (so a result is late by at most one poll interval plus one query).
   */
  async waitSettled(opts: { pollMs: number; timeoutMs: number; onPoll?: () => void }): Promise<number> {
    const deadline = performance.now() + opts.timeoutMs;
    let last: SettleCheck | undefined;
    for (;;) {
      last = await this.check();
      if (last.matching === last.accounts && last.events === this.expectedEvents) return performance.now();
      if (last.events !== null && last.events > this.expectedEvents) {
        throw new Error(`usage_events holds ${last.events} rows, more than the ${this.expectedEvents} events sent`);
      }
      opts.onPoll?.();
      if (performance.now() > deadline) {
        throw new Error(`not settled after ${opts.timeoutMs} ms: ${last.matching}/${last.accounts} balances exact, events ${last.events ?? '?'} of ${this.expectedEvents}`);
      }
      await new Promise((resolve) => setTimeout(resolve, opts.pollMs));
    }
  }

  /** usage_events rows now: what the worker has billed so far (one count, while the clock runs). */
  async billed(): Promise<number> {
    const { rows } = await this.client.query('SELECT count(*)::int AS n FROM usage_events');
    return (rows[0] as { n: number }).n;
  }

  /**
   * The proof, after the clock stopped: every balance read back as text and compared with the
   * expected value as Money, the event count, and no rejection recorded.
   */
  async verify(): Promise<{ accounts: number; events: number; rejected: number; ledgerEntries: number }> {
    const balances = await this.client.query<{ account_id: string; balance: string }>(
      'SELECT account_id, balance::text AS balance FROM account_balances WHERE account_id = ANY($1::text[])',
      [[...this.expected.keys()]],
    );
    if (balances.rows.length !== this.expected.size) throw new Error(`expected ${this.expected.size} accounts, found ${balances.rows.length}`);
    for (const row of balances.rows) {
      const want = this.expected.get(row.account_id)!;
      if (!new Money(row.balance).eq(want)) throw new Error(`balance of ${row.account_id} is ${row.balance}, expected ${want.toFixed()}`);
    }
    const { rows } = await this.client.query(
      `SELECT (SELECT count(*)::int FROM usage_events) AS events, (SELECT count(*)::int FROM rejected_events) AS rejected,
              (SELECT count(*)::int FROM ledger_entries) AS ledger_entries`,
    );
    const { events, rejected, ledger_entries: ledgerEntries } = rows[0] as { events: number; rejected: number; ledger_entries: number };
    if (events !== this.expectedEvents) throw new Error(`usage_events holds ${events} rows, expected ${this.expectedEvents}`);
    if (rejected !== 0) throw new Error(`${rejected} events were rejected`);
    return { accounts: balances.rows.length, events, rejected, ledgerEntries };
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}
