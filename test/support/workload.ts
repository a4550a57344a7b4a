import { formatMoney, Money } from '../../libs/billing/src/index.js';
import type { BenchEvent } from '../../bench/events.js';

/** An event's cost at the launch prices, computed here, independently of the service. */
export const launchCost = (uncached: number, cached: number, output: number): Money =>
  new Money(uncached).mul('0.04').add(new Money(cached).mul('0.02')).add(new Money(output).mul('0.07')).div(1_000_000);

/** A /v1/chat/completions usage event, as the bench sends them too. */
export type WorkloadEvent = BenchEvent;

/**
 * Usage events with random token counts over some accounts (seeded, so a failure replays), and
 * what each account owes for them, summed here as the events are made. Each event is made once;
 * sending it twice, or losing it, is what the tests look for.
 */
export class Workload {
  readonly owed: Map<string, Money>;
  readonly ids: string[] = [];
  private seed: number;

  constructor(
    readonly accounts: readonly string[],
    private readonly idPrefix: string,
    seed = 7,
  ) {
    this.owed = new Map(accounts.map((a) => [a, new Money(0)]));
    this.seed = seed;
  }

  private random(n: number): number {
    this.seed = (this.seed * 1103515245 + 12345) % 2 ** 31;
    return this.seed % n;
  }

  events(count: number): WorkloadEvent[] {
    return Array.from({ length: count }, () => {
      const account = this.accounts[this.random(this.accounts.length)];
      const prompt = this.random(20_000);
      const cached = this.random(prompt + 1);
      const output = this.random(4_000);
      this.owed.set(account, this.owed.get(account)!.add(launchCost(prompt - cached, cached, output)));
      const event_id = `${this.idPrefix}-${this.ids.length}`;
      this.ids.push(event_id);
      return {
        event_id,
        account_id: account,
        model: 'qwen3-5-4b',
        endpoint: '/v1/chat/completions',
        occurred_at: new Date(Date.now() - this.random(3_600_000)).toISOString(),
        usage: { prompt_tokens: prompt, completion_tokens: output, prompt_tokens_details: { cached_tokens: cached } },
      };
    });
  }

  /** The balance each account must show: what it was given, less what its events cost. */
  expectedBalances(given: Money | string): Record<string, string> {
    return Object.fromEntries([...this.owed].map(([account, owed]) => [account, formatMoney(new Money(given).sub(owed))]));
  }
}

/** Balances as the service keeps them, in the same form as Workload.expectedBalances. */
export async function balancesOf(db: { query: (sql: string, params: unknown[]) => Promise<{ account_id: string; balance: string }[]> }, accounts: readonly string[]): Promise<Record<string, string>> {
  const rows = await db.query('SELECT account_id, balance::text FROM account_balances WHERE account_id = ANY($1)', [accounts]);
  return Object.fromEntries(rows.map((r) => [r.account_id, formatMoney(new Money(r.balance))]));
}
