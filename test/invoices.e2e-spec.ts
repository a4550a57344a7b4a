import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { spawnSync } from 'node:child_process';
import { InvoiceScheduler } from '../apps/worker/src/processors/invoice.scheduler.js';
import { redisConnection } from '../libs/queue/src/index.js';
import { DataSource } from 'typeorm';
import { ADMIN, bearer, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, createKey, credit, uniqueId, usageEvent } from './support/factories.js';
import { fetchPdf, pdfText } from './support/pdf.js';
import { scratchDatabase } from './support/scratch.js';

// Its own database: this spec adds back-dated rate card versions, which would reprice everyone else's events.
const USAGE_QUEUE = uniqueQueueName();
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;
let db: DataSource;

beforeAll(async () => {
  scratch = await scratchDatabase();
  const setup = new DataSource({ type: 'postgres', url: scratch.url });
  await setup.initialize();
  // Version 2 repriced the second half of March 2026; version 3 went back to launch prices in April.
  await setup.transaction(async (tx) => {
    await tx.query('SET LOCAL session_replication_role = replica');
    await tx.query(`INSERT INTO rate_card_versions (version, effective_from) VALUES (2, '2026-03-15T00:00:00Z'), (3, '2026-04-01T00:00:00Z')`);
    await tx.query(`INSERT INTO rate_card_prices VALUES (2, 'qwen3-5-4b', 0.035, 0.065, 0.0175), (3, 'qwen3-5-4b', 0.04, 0.07, 0.02)`);
  });
  await setup.destroy();
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

async function send(events: unknown[]) {
  await queue.add('usage-batch', { events });
  await drained(queue);
}
const at = (accountId: string, occurredAt: string, usage: Record<string, unknown>) => usageEvent(accountId, { occurred_at: occurredAt, usage });
const generate = async (period: string) => (await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period }).expect(200)).body;
async function invoiceOf(accountId: string, period: string) {
  const res = await api.http().get(`/v1/accounts/${accountId}/invoices`).set(ADMIN).expect(200);
  const summary = res.body.data.find((i: { period: string; status: string }) => i.period === period && i.status !== 'void');
  return summary ? (await api.http().get(`/v1/invoices/${summary.invoice_id}`).set(ADMIN).expect(200)).body : undefined;
}

describe('monthly invoices', () => {
  it('bills usage on either side of a month edge to its own month, and each month opens where the last closed', async () => {
    const { account_id } = await createAccount(api, { name: 'Edge Ltd' });
    await send([
      at(account_id, '2026-06-30T23:59:59.999Z', { prompt_tokens: 1000, completion_tokens: 100 }),
      at(account_id, '2026-07-01T00:00:00.000Z', { prompt_tokens: 2000, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 500 } }),
    ]);
    await generate('2026-06');
    await generate('2026-07');
    const june = await invoiceOf(account_id, '2026-06');
    const july = await invoiceOf(account_id, '2026-07');
    expect(june).toMatchObject({
      number: expect.stringMatching(/^INV-2026-06-\d{6}$/),
      account_name: 'Edge Ltd',
      status: 'draft',
      period_start: '2026-06-01T00:00:00.000Z',
      period_end: '2026-07-01T00:00:00.000Z',
      opening_balance: '0',
      credits_total: '0',
      usage_total: '0.000047',
      usage_total_rounded: '0.00',
      closing_balance: '-0.000047',
      lines: [
        { model: 'qwen3-5-4b', token_class: 'input', rate_card_version: 3, unit_price_per_million: '0.04', tokens: 1000, amount: '0.00004', late: false, usage_period: '2026-06' },
        { model: 'qwen3-5-4b', token_class: 'output', rate_card_version: 3, unit_price_per_million: '0.07', tokens: 100, amount: '0.000007', late: false, usage_period: '2026-06' },
      ],
    });
    // 1500 x 0.04 + 500 x 0.02 + 10 x 0.07 = 70.7 micro-dollars
    expect(july).toMatchObject({ opening_balance: '-0.000047', usage_total: '0.0000707', closing_balance: '-0.0001177' });
    expect(july.lines.map((l: { token_class: string; tokens: number }) => [l.token_class, l.tokens])).toEqual([
      ['input', 1500],
      ['cached_input', 500],
      ['output', 10],
    ]);
  });

  it('splits lines by rate card version when the price changed inside the month', async () => {
    const { account_id } = await createAccount(api);
    await send([
      at(account_id, '2026-03-14T23:59:59.999Z', { prompt_tokens: 200_000, completion_tokens: 20_000 }),
      at(account_id, '2026-03-15T00:00:00.000Z', { prompt_tokens: 200_000, completion_tokens: 20_000 }),
    ]);
    await generate('2026-03');
    const march = await invoiceOf(account_id, '2026-03');
    expect(march.lines.map((l: { rate_card_version: number; token_class: string; amount: string }) => [l.rate_card_version, l.token_class, l.amount])).toEqual([
      [1, 'input', '0.008'],
      [1, 'output', '0.0014'],
      [2, 'input', '0.007'],
      [2, 'output', '0.0013'],
    ]);
    expect(march).toMatchObject({ usage_total: '0.0177', usage_total_rounded: '0.02', closing_balance: '-0.0177' });
  });

  it('is idempotent: running again creates nothing new, refreshes drafts, and never touches a finalized invoice', async () => {
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2026-05-10T10:00:00Z', { prompt_tokens: 10, completion_tokens: 1 })]);
    const first = await generate('2026-05');
    expect(first.created).toBeGreaterThanOrEqual(1);
    const again = await generate('2026-05');
    expect(again.created).toBe(0);
    const [{ n }] = await db.query("SELECT count(*)::int AS n FROM invoices WHERE account_id = $1 AND period = '2026-05-01'", [account_id]);
    expect(n).toBe(1);

    await send([at(account_id, '2026-05-20T10:00:00Z', { prompt_tokens: 10, completion_tokens: 1 })]);
    await generate('2026-05');
    const draft = await invoiceOf(account_id, '2026-05');
    expect(draft.usage_total).toBe('0.00000094');

    await api.http().post(`/v1/invoices/${draft.invoice_id}/finalize`).set(ADMIN).expect(200);
    const final = await invoiceOf(account_id, '2026-05');
    await generate('2026-05');
    expect(await invoiceOf(account_id, '2026-05')).toEqual(final);
  });

  it('bills usage that arrives after its month was finalized on the next open invoice, marked late, and keeps the final one unchanged', async () => {
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2026-08-05T00:00:00Z', { prompt_tokens: 100, completion_tokens: 0 })]);
    await generate('2026-08');
    const august = await invoiceOf(account_id, '2026-08');
    await api.http().post(`/v1/invoices/${august.invoice_id}/finalize`).set(ADMIN).expect(200);
    const finalAugust = (await api.http().get(`/v1/invoices/${august.invoice_id}`).set(ADMIN)).body;

    await send([
      at(account_id, '2026-08-31T23:59:59.999Z', { prompt_tokens: 0, completion_tokens: 1000 }),
      at(account_id, '2026-09-02T00:00:00Z', { prompt_tokens: 200, completion_tokens: 0 }),
    ]);
    await generate('2026-09');
    const september = await invoiceOf(account_id, '2026-09');
    expect(september.lines).toEqual([
      { model: 'qwen3-5-4b', token_class: 'input', rate_card_version: 3, unit_price_per_million: '0.04', tokens: 200, amount: '0.000008', late: false, usage_period: '2026-09' },
      { model: 'qwen3-5-4b', token_class: 'output', rate_card_version: 3, unit_price_per_million: '0.07', tokens: 1000, amount: '0.00007', late: true, usage_period: '2026-08' },
    ]);
    expect(september).toMatchObject({ opening_balance: finalAugust.closing_balance, usage_total: '0.000078', closing_balance: '-0.000082' });
    expect((await api.http().get(`/v1/invoices/${august.invoice_id}`).set(ADMIN)).body).toEqual(finalAugust);
    // The late usage was debited at once, and invoices and balance agree.
    const balance = (await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN)).body.balance;
    expect(balance).toBe('-0.000082');
  });

  it('bills late usage of a month that has no invoice on the next one, and the chain ends at the balance', async () => {
    const { account_id } = await createAccount(api);
    // 100k x 0.04 + 10k x 0.07 = 0.0047
    await send([at(account_id, '2026-09-20T00:00:00Z', { prompt_tokens: 100_000, completion_tokens: 10_000 })]);
    await generate('2026-09');
    const september = await invoiceOf(account_id, '2026-09');
    await api.http().post(`/v1/invoices/${september.invoice_id}/finalize`).set(ADMIN).expect(200);
    await generate('2026-10');
    expect(await invoiceOf(account_id, '2026-10')).toBeUndefined();

    // 200k x 0.04 = 0.008 for October, arriving after October was invoiced; 100k x 0.04 = 0.004 for November.
    await send([at(account_id, '2026-10-31T23:59:00Z', { prompt_tokens: 200_000, completion_tokens: 0 }), at(account_id, '2026-11-10T00:00:00Z', { prompt_tokens: 100_000, completion_tokens: 0 })]);
    await generate('2026-11');
    const november = await invoiceOf(account_id, '2026-11');
    expect(november).toMatchObject({ opening_balance: '-0.0047', usage_total: '0.012', closing_balance: '-0.0167' });
    expect(november.lines.map((l: { usage_period: string; late: boolean; token_class: string; tokens: number; amount: string }) => [l.usage_period, l.late, l.token_class, l.tokens, l.amount])).toEqual([
      ['2026-11', false, 'input', 100_000, '0.004'],
      ['2026-10', true, 'input', 200_000, '0.008'],
    ]);
    expect((await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN)).body.balance).toBe('-0.0167');

    // Invoicing October now gives it its own usage back; the November draft keeps only November's.
    await generate('2026-10');
    expect(await invoiceOf(account_id, '2026-10')).toMatchObject({ opening_balance: '-0.0047', usage_total: '0.008', closing_balance: '-0.0127', lines: [expect.objectContaining({ late: false, tokens: 200_000 })] });
    expect(await invoiceOf(account_id, '2026-11')).toMatchObject({ opening_balance: '-0.0127', usage_total: '0.004', closing_balance: '-0.0167', lines: [expect.objectContaining({ late: false, tokens: 100_000 })] });
    const report = (await api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body;
    expect(report.discrepancies).toEqual([]);
    expect(report.ok).toBe(true);
  });

  /** September finalized with 100k input tokens, then 50k more September tokens arrive and October is invoiced. */
  async function septemberWithLateUsageOnOctober() {
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2026-09-10T00:00:00Z', { prompt_tokens: 100_000, completion_tokens: 0 })]);
    await generate('2026-09');
    const september = await invoiceOf(account_id, '2026-09');
    await api.http().post(`/v1/invoices/${september.invoice_id}/finalize`).set(ADMIN).expect(200);
    await send([at(account_id, '2026-09-30T12:00:00Z', { prompt_tokens: 50_000, completion_tokens: 0 })]);
    await generate('2026-10');
    const october = await invoiceOf(account_id, '2026-10');
    expect(october.lines).toEqual([expect.objectContaining({ usage_period: '2026-09', late: true, tokens: 50_000, amount: '0.002' })]);
    return { account_id, september, october };
  }
  const liveUsage = async (accountId: string) =>
    (await db.query(`SELECT coalesce(sum(usage_total), 0)::text AS total FROM invoices WHERE account_id = $1 AND status <> 'void'`, [accountId]))[0].total;

  it('refuses to void a month while a later finalized invoice opens where it closes and carries its late usage', async () => {
    const { account_id, september, october } = await septemberWithLateUsageOnOctober();
    await api.http().post(`/v1/invoices/${october.invoice_id}/finalize`).set(ADMIN).expect(200);
    const refused = await api.http().post(`/v1/invoices/${september.invoice_id}/void`).set(ADMIN).expect(409);
    expect(refused.body.detail).toBe(
      `${september.number} cannot be voided while ${october.number} is finalized: the finalized invoices after it open where it closes, and bill 50000 tokens of 2026-09 as late usage. Void invoices newest first, then invoice the months again in order.`,
    );
    expect((await api.http().get(`/v1/invoices/${september.invoice_id}`).set(ADMIN)).body.status).toBe('finalized');

    // Newest first, then reissued in order: the 150k tokens of September are billed once, on September.
    await api.http().post(`/v1/invoices/${october.invoice_id}/void`).set(ADMIN).expect(200);
    await api.http().post(`/v1/invoices/${september.invoice_id}/void`).set(ADMIN).expect(200);
    await generate('2026-09');
    await generate('2026-10');
    expect(await invoiceOf(account_id, '2026-09')).toMatchObject({ usage_total: '0.006', lines: [expect.objectContaining({ late: false, tokens: 150_000 })] });
    expect(await invoiceOf(account_id, '2026-10')).toBeUndefined();
    expect(await liveUsage(account_id)).toBe('0.006000000000000000');
  });

  it('refuses to void a month under a later finalized invoice even when that one carries none of its usage', async () => {
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2026-07-10T00:00:00Z', { prompt_tokens: 10, completion_tokens: 0 }), at(account_id, '2026-08-10T00:00:00Z', { prompt_tokens: 10, completion_tokens: 0 })]);
    await generate('2026-07');
    await generate('2026-08');
    const [july, august] = [await invoiceOf(account_id, '2026-07'), await invoiceOf(account_id, '2026-08')];
    for (const invoice of [july, august]) await api.http().post(`/v1/invoices/${invoice.invoice_id}/finalize`).set(ADMIN).expect(200);
    const refused = await api.http().post(`/v1/invoices/${july.invoice_id}/void`).set(ADMIN).expect(409);
    expect(refused.body.detail).toBe(
      `${july.number} cannot be voided while ${august.number} is finalized: the finalized invoices after it open where it closes. Void invoices newest first, then invoice the months again in order.`,
    );
  });

  it('reissues a voided month without billing twice what a later draft carried for it', async () => {
    const { account_id, september, october } = await septemberWithLateUsageOnOctober();
    await api.http().post(`/v1/invoices/${september.invoice_id}/void`).set(ADMIN).expect(200);
    // Until September is invoiced again, its usage is owed by the next open invoice.
    expect(await invoiceOf(account_id, '2026-10')).toMatchObject({ invoice_id: october.invoice_id, usage_total: '0.006', lines: [expect.objectContaining({ usage_period: '2026-09', late: true, tokens: 150_000 })] });
    await generate('2026-09');
    expect(await invoiceOf(account_id, '2026-09')).toMatchObject({ opening_balance: '0', usage_total: '0.006', closing_balance: '-0.006', lines: [expect.objectContaining({ late: false, tokens: 150_000 })] });
    expect(await invoiceOf(account_id, '2026-10')).toMatchObject({ invoice_id: october.invoice_id, opening_balance: '-0.006', usage_total: '0', closing_balance: '-0.006', lines: [] });
    expect(await liveUsage(account_id)).toBe('0.006000000000000000');
  });

  it('invoices a skipped month after a later one was finalized with its credits only, and its late usage goes to the next open invoice', async () => {
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2026-08-10T00:00:00Z', { prompt_tokens: 250_000, completion_tokens: 0 })]);
    await generate('2026-08');
    await api.http().post(`/v1/invoices/${(await invoiceOf(account_id, '2026-08')).invoice_id}/finalize`).set(ADMIN).expect(200);
    // A credit made in September (written as the service would have then), and September is skipped.
    await db.transaction(async (tx) => {
      const [{ balance }] = await tx.query('SELECT (balance + 5)::text AS balance FROM account_balances WHERE account_id = $1 FOR UPDATE', [account_id]);
      await tx.query('UPDATE account_balances SET balance = $2 WHERE account_id = $1', [account_id, balance]);
      // As POST /credits writes it (the entry and its grant), dated in September.
      await tx.query(
        `WITH e AS (
           INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, idempotency_key, created_at)
           VALUES ($1, 'credit', 'purchase', 5, $2, 'september', '2026-09-15T00:00:00Z') RETURNING entry_id, created_at
         )
         INSERT INTO grants (grant_id, account_id, entry_id, credit_kind, amount, created_at) SELECT 'gr_' || entry_id, $1, entry_id, 'purchase', 5, created_at FROM e`,
        [account_id, balance],
      );
    });
    await send([at(account_id, '2026-10-10T00:00:00Z', { prompt_tokens: 250_000, completion_tokens: 0 })]);
    await generate('2026-10');
    const october = await invoiceOf(account_id, '2026-10');
    expect(october).toMatchObject({ opening_balance: '4.99', usage_total: '0.01', closing_balance: '4.98' });
    await api.http().post(`/v1/invoices/${october.invoice_id}/finalize`).set(ADMIN).expect(200);

    await send([at(account_id, '2026-09-30T00:00:00Z', { prompt_tokens: 250_000, completion_tokens: 0 })]);
    await generate('2026-09');
    expect(await invoiceOf(account_id, '2026-09')).toMatchObject({ status: 'draft', opening_balance: '-0.01', credits_total: '5', usage_total: '0', closing_balance: '4.99', lines: [] });
    await generate('2026-11');
    expect(await invoiceOf(account_id, '2026-11')).toMatchObject({
      opening_balance: '4.98',
      usage_total: '0.01',
      closing_balance: '4.97',
      lines: [expect.objectContaining({ usage_period: '2026-09', late: true, tokens: 250_000 })],
    });
    expect((await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN)).body.balance).toBe('4.97');
    const report = (await api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body;
    expect(report.discrepancies).toEqual([]);
  });

  it('counts credits in their month and ties out: opening + credits - usage = closing', async () => {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, '25.00');
    await send([usageEvent(account_id, { usage: { prompt_tokens: 1000, completion_tokens: 1000 } })]);
    const now = new Date();
    const period = `${now.getUTCFullYear()}-${String(now.getUTCMonth() + 1).padStart(2, '0')}`;
    await generate(period);
    const invoice = await invoiceOf(account_id, period);
    expect(invoice).toMatchObject({ credits_total: '25', usage_total: '0.00011', usage_total_rounded: '0.00', closing_balance: '24.99989', status: 'draft' });
    const res = await api.http().post(`/v1/invoices/${invoice.invoice_id}/finalize`).set(ADMIN).expect(409);
    expect(res.body.detail).toContain('is not over yet');
  });
});

describe('lifecycle', () => {
  it('numbers invoices sequentially per month, readable and unique', async () => {
    const accounts = await Promise.all([createAccount(api), createAccount(api), createAccount(api)]);
    await send(accounts.map((a) => at(a.account_id, '2026-02-10T00:00:00Z', { prompt_tokens: 1, completion_tokens: 1 })));
    await generate('2026-02');
    const rows = await db.query("SELECT number FROM invoices WHERE period = '2026-02-01' ORDER BY number");
    expect(rows.map((r: { number: string }) => r.number)).toEqual(['INV-2026-02-000001', 'INV-2026-02-000002', 'INV-2026-02-000003']);
  });

  it('widens the number past 999,999 invoices in a month instead of truncating it, and keeps lists, exports and PDFs in number order', async () => {
    // Ids that sort first: new invoices are numbered in account order.
    const prefix = uniqueId('0wide');
    const accounts = [`${prefix}-a`, `${prefix}-b`, `${prefix}-c`];
    for (const account_id of accounts) await createAccount(api, { account_id });
    await send(accounts.map((a) => at(a, '2026-06-12T00:00:00Z', { prompt_tokens: 7, completion_tokens: 7 })));
    // As if 999,998 invoices of the month were already out.
    await db.query(`INSERT INTO invoice_counters (period, last) VALUES ('2026-06-01', 999998) ON CONFLICT (period) DO UPDATE SET last = 999998`);
    await generate('2026-06');
    const numbers = async (account: string) =>
      (await api.http().get(`/v1/accounts/${account}/invoices`).set(ADMIN).expect(200)).body.data.map((i: { number: string }) => i.number);
    expect(await Promise.all(accounts.map(numbers))).toEqual([['INV-2026-06-999999'], ['INV-2026-06-1000000'], ['INV-2026-06-1000001']]);

    // A reissue gets the next number; the account's list stays newest first, page by page.
    const first = await invoiceOf(accounts[0], '2026-06');
    await api.http().post(`/v1/invoices/${first.invoice_id}/finalize`).set(ADMIN).expect(200);
    await api.http().post(`/v1/invoices/${first.invoice_id}/void`).set(ADMIN).expect(200);
    await generate('2026-06');
    expect(await numbers(accounts[0])).toEqual(['INV-2026-06-1000002', 'INV-2026-06-999999']);
    const page1 = (await api.http().get(`/v1/accounts/${accounts[0]}/invoices?limit=1`).set(ADMIN).expect(200)).body;
    const page2 = (await api.http().get(`/v1/accounts/${accounts[0]}/invoices?limit=1&cursor=${page1.next_cursor}`).set(ADMIN).expect(200)).body;
    expect([...page1.data, ...page2.data].map((i: { number: string }) => i.number)).toEqual(['INV-2026-06-1000002', 'INV-2026-06-999999']);
    expect(page2.next_cursor).toBeNull();

    const csv = (await api.http().get('/v1/exports/invoices.csv?period=2026-06').set(ADMIN).expect(200)).text;
    const rows = (parse(csv, { columns: true }) as Record<string, string>[]).filter((r) => accounts.includes(r.account_id));
    expect(rows.map((r) => [r.invoice_number, r.status, r.token_class])).toEqual([
      ['INV-2026-06-999999', 'void', 'input'],
      ['INV-2026-06-999999', 'void', 'output'],
      ['INV-2026-06-1000000', 'draft', 'input'],
      ['INV-2026-06-1000000', 'draft', 'output'],
      ['INV-2026-06-1000001', 'draft', 'input'],
      ['INV-2026-06-1000001', 'draft', 'output'],
      ['INV-2026-06-1000002', 'draft', 'input'],
      ['INV-2026-06-1000002', 'draft', 'output'],
    ]);

    const reissued = await invoiceOf(accounts[0], '2026-06');
    const { pdf, headers } = await fetchPdf(api, `/v1/invoices/${reissued.invoice_id}/pdf`);
    expect(headers['content-disposition']).toBe('inline; filename="INV-2026-06-1000002.pdf"');
    expect(await pdfText(pdf)).toContain('INV-2026-06-1000002');
  });

  it('refuses what the lifecycle forbids, with 409', async () => {
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2026-01-10T00:00:00Z', { prompt_tokens: 1, completion_tokens: 1 }), at(account_id, '2026-02-10T00:00:00Z', { prompt_tokens: 1, completion_tokens: 1 })]);
    await generate('2026-01');
    await generate('2026-02');
    const january = await invoiceOf(account_id, '2026-01');
    const february = await invoiceOf(account_id, '2026-02');
    expect((await api.http().post(`/v1/invoices/${february.invoice_id}/finalize`).set(ADMIN).expect(409)).body.detail).toContain(`Finalize ${january.number} first`);
    await api.http().post(`/v1/invoices/${january.invoice_id}/void`).set(ADMIN).expect(409);
    await api.http().post(`/v1/invoices/${january.invoice_id}/finalize`).set(ADMIN).expect(200);
    await api.http().post(`/v1/invoices/${january.invoice_id}/finalize`).set(ADMIN).expect(200);
    const voided = await api.http().post(`/v1/invoices/${january.invoice_id}/void`).set(ADMIN).expect(200);
    expect(voided.body).toMatchObject({ status: 'void', voided_at: expect.any(String) });
    const res = await api.http().post(`/v1/invoices/${january.invoice_id}/finalize`).set(ADMIN).expect(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    await api.http().post('/v1/invoices/inv_nope/finalize').set(ADMIN).expect(404);
  });

  it('is immutable in the database once finalized', async () => {
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2026-04-10T00:00:00Z', { prompt_tokens: 1, completion_tokens: 1 })]);
    await generate('2026-04');
    const invoice = await invoiceOf(account_id, '2026-04');
    await api.http().post(`/v1/invoices/${invoice.invoice_id}/finalize`).set(ADMIN).expect(200);
    await expect(db.query('UPDATE invoices SET usage_total = 0, usage_total_rounded = 0, closing_balance = opening_balance + credits_total WHERE invoice_id = $1', [invoice.invoice_id])).rejects.toThrow(/finalized and immutable/);
    await expect(db.query('DELETE FROM invoice_lines WHERE invoice_id = $1', [invoice.invoice_id])).rejects.toThrow(/are final/);
    await expect(db.query('DELETE FROM invoices WHERE invoice_id = $1', [invoice.invoice_id])).rejects.toThrow(/never deleted/);
  });

  it.each([['2026-13'], ['2026-1'], ['november'], [202611]])('answers a 4xx problem for the period %j', async (period) => {
    const res = await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period });
    expect([400, 422]).toContain(res.status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('refuses a month that has not started', async () => {
    await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period: '2099-01' }).expect(422);
  });
});

describe('access and PDF', () => {
  it('lets an account key read its own invoices and PDFs, and nobody else\'s', async () => {
    const mine = await createAccount(api, { name: 'Zürich Widgets AG' });
    const other = await createAccount(api);
    await send([at(mine.account_id, '2026-02-12T00:00:00Z', { prompt_tokens: 5, completion_tokens: 5 }), at(other.account_id, '2026-02-12T00:00:00Z', { prompt_tokens: 5, completion_tokens: 5 })]);
    await generate('2026-02');
    const secret = await createKey(api, mine.account_id);
    const own = (await api.http().get(`/v1/accounts/${mine.account_id}/invoices`).set(bearer(secret)).expect(200)).body.data[0];
    const theirs = (await api.http().get(`/v1/accounts/${other.account_id}/invoices`).set(ADMIN).expect(200)).body.data[0];
    await api.http().get(`/v1/invoices/${own.invoice_id}`).set(bearer(secret)).expect(200);
    await api.http().get(`/v1/invoices/${theirs.invoice_id}`).set(bearer(secret)).expect(403);
    await api.http().get(`/v1/invoices/${theirs.invoice_id}/pdf`).set(bearer(secret)).expect(403);
    await api.http().get(`/v1/accounts/${other.account_id}/invoices`).set(bearer(secret)).expect(403);
    await api.http().post('/v1/invoices/generate').set(bearer(secret)).send({ period: '2026-02' }).expect(403);
    await api.http().post(`/v1/invoices/${own.invoice_id}/finalize`).set(bearer(secret)).expect(403);
    await api.http().get(`/v1/invoices/${own.invoice_id}`).expect(401);
  });

  it('serves a PDF whose text carries the number, the account and the totals', async () => {
    const { account_id } = await createAccount(api, { name: 'Acme PDF Corp' });
    await send([at(account_id, '2026-02-20T00:00:00Z', { prompt_tokens: 123456, completion_tokens: 7890 })]);
    await generate('2026-02');
    const invoice = await invoiceOf(account_id, '2026-02');
    const { pdf, headers } = await fetchPdf(api, `/v1/invoices/${invoice.invoice_id}/pdf`);
    expect(headers['content-type']).toBe('application/pdf');
    expect(headers['content-disposition']).toBe(`inline; filename="${invoice.number}.pdf"`);
    const text = await pdfText(pdf);
    // 123456 x 0.04 + 7890 x 0.07 = 4938.24 + 552.3 micro-dollars
    expect(invoice.usage_total).toBe('0.00549054');
    for (const expected of [invoice.number, 'Acme PDF Corp', account_id, '0.00549054', '0.01', invoice.closing_balance, 'DRAFT']) {
      expect(text).toContain(expected);
    }
  });
});

describe('running it', () => {
  it('schedules last month\'s drafts for five past midnight UTC on the 1st, and a run generates them', async () => {
    const maintenance = new Queue('billing-maintenance', { connection: redisConnection(process.env.REDIS_URL!), prefix: process.env.QUEUE_PREFIX });
    try {
      const schedulers = await maintenance.getJobSchedulers();
      expect(schedulers).toEqual([expect.objectContaining({ key: 'monthly-invoice-drafts', pattern: '5 0 1 * *', tz: 'UTC', name: 'generate-invoices' })]);
    } finally {
      await maintenance.close();
    }
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2026-09-15T00:00:00Z', { prompt_tokens: 3, completion_tokens: 3 })]);
    const progress: unknown[] = [];
    const result = await worker.get(InvoiceScheduler).run({ name: 'generate-invoices', data: { period: '2026-09' }, updateProgress: async (p: unknown) => void progress.push(p) } as never);
    expect(result).toMatchObject({ period: '2026-09' });
    expect(progress.at(-1)).toMatchObject({ period: '2026-09', done: expect.any(Number), total: expect.any(Number) });
    expect(await invoiceOf(account_id, '2026-09')).toMatchObject({ status: 'draft', usage_total: '0.00000033' });
  });

  it('npm run invoices shows progress and finalizes with --finalize', async () => {
    const { account_id } = await createAccount(api);
    await send([at(account_id, '2025-12-31T23:59:59Z', { prompt_tokens: 1, completion_tokens: 1 }), at(account_id, '2026-01-20T00:00:00Z', { prompt_tokens: 1, completion_tokens: 1 })]);
    const cli = spawnSync(process.execPath, ['dist/apps/cli/src/invoices.js', '--period', '2026-01', '--finalize'], {
      env: { PATH: process.env.PATH, DATABASE_URL: scratch.url },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(cli.stdout).toMatch(/generating 2026-01: \d+\/\d+ accounts/);
    expect(cli.stdout).toMatch(/invoices finalized/);
    expect((await invoiceOf(account_id, '2026-01')).status).toBe('finalized');
    const usage = spawnSync(process.execPath, ['dist/apps/cli/src/invoices.js'], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toContain('usage: npm run invoices -- --period YYYY-MM [--finalize]');
  });
});
