import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource, type EntityManager } from 'typeorm';
import { Money, formatMoney } from '../libs/billing/src/index.js';
import { ADMIN, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, credit, usageEvent } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';

// Its own database: these tests tamper with the books on purpose.
const USAGE_QUEUE = uniqueQueueName();
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;
let db: DataSource;
const accounts: string[] = [];

beforeAll(async () => {
  scratch = await scratchDatabase();
  api = await startApi({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  worker = await startWorker({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  queue = producer(USAGE_QUEUE);
  db = api.app.get(DataSource);
  const names = ['Comma, Inc.', 'Quote "Q" Ltd', 'Line\nBreak GmbH'];
  for (const name of names) {
    const { account_id } = await createAccount(api, { name });
    accounts.push(account_id);
    await credit(api, account_id, '10.000000000000000001');
  }
  await api.http().post(`/v1/accounts/${accounts[0]}/credits`).set(ADMIN).set('Idempotency-Key', 'ref').send({ amount: '1', kind: 'refund', reference: 'ticket "42", see\r\nnotes, line 2' }).expect(201);
  await queue.add('usage-batch', {
    events: [
      usageEvent(accounts[0], { occurred_at: '2026-10-31T23:59:59.999Z', usage: { prompt_tokens: 1, completion_tokens: 1 } }),
      usageEvent(accounts[1], { occurred_at: '2026-11-01T00:00:00.000Z', usage: { prompt_tokens: 262144, completion_tokens: 32768 } }),
      usageEvent(accounts[2], { occurred_at: '2026-11-02T00:00:00Z', usage: { prompt_tokens: 5, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 5 } } }),
      usageEvent(accounts[2], { model: 'not-a-model' }),
    ],
  });
  await drained(queue);
  await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period: '2026-11' }).expect(200);
});
afterAll(async () => {
  await queue?.close();
  await worker?.close();
  await api?.close();
  await scratch?.drop();
});

async function csv(path: string) {
  const res = await api.http().get(path).set(ADMIN).expect(200);
  expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
  return { text: res.text, rows: parse(res.text, { columns: true }) as Record<string, string>[] };
}

describe('exports', () => {
  it('usage.csv has one row per priced event, costs exactly as stored', async () => {
    const { rows, text } = await csv('/v1/exports/usage.csv?from=2026-10-01T00:00:00Z&to=2026-12-01T00:00:00Z');
    expect(text.startsWith('event_id,account_id,occurred_at,model,endpoint,rate_card_version,input_tokens,cached_input_tokens,output_tokens,cache_reported,cost,ledger_entry_id,received_at\r\n')).toBe(true);
    // Every record, the header's too, ends in CRLF, and no line break stands alone (no field here holds one).
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.split('\r\n')).toHaveLength(rows.length + 2);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    expect(rows.map((r) => [r.account_id, r.occurred_at, r.input_tokens, r.cached_input_tokens, r.output_tokens, r.cost])).toEqual([
      [accounts[0], '2026-10-31T23:59:59.999Z', '1', '0', '1', '0.00000011'],
      [accounts[1], '2026-11-01T00:00:00.000Z', '262144', '0', '32768', '0.01277952'],
      [accounts[2], '2026-11-02T00:00:00.000Z', '0', '5', '0', '0.0000001'],
    ]);
    const [{ total }] = await db.query('SELECT sum(cost)::text AS total FROM usage_events');
    expect(formatMoney(rows.reduce((sum, r) => sum.add(r.cost), new Money(0)))).toBe(formatMoney(new Money(total)));
    const november = await csv('/v1/exports/usage.csv?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z');
    expect(november.rows).toHaveLength(2);
  });

  it('ledger.csv ties out to the balances, and references with commas, quotes and newlines survive the round trip', async () => {
    const { rows } = await csv('/v1/exports/ledger.csv');
    const refund = rows.find((r) => r.credit_kind === 'refund')!;
    expect(refund.reference).toBe('ticket "42", see\r\nnotes, line 2');
    for (const account of accounts) {
      const sum = rows.filter((r) => r.account_id === account).reduce((s, r) => s.add(r.amount), new Money(0));
      const balance = (await api.http().get(`/v1/accounts/${account}/balance`).set(ADMIN)).body.balance;
      expect(formatMoney(sum)).toBe(balance);
    }
    expect(rows.find((r) => r.kind === 'usage' && r.account_id === accounts[1])).toMatchObject({ amount: '-0.01277952', balance_after: '9.987220480000000001', event_count: '1' });
  });

  it('invoices.csv has one row per invoice line, with number, account and status, names intact', async () => {
    const { rows } = await csv('/v1/exports/invoices.csv?period=2026-11');
    expect(rows.map((r) => [r.account_name, r.token_class, r.amount, r.status, r.late]).sort()).toEqual([
      ['Comma, Inc.', 'input', '0.00000004', 'draft', 'true'],
      ['Comma, Inc.', 'output', '0.00000007', 'draft', 'true'],
      ['Line\nBreak GmbH', 'cached_input', '0.0000001', 'draft', 'false'],
      ['Quote "Q" Ltd', 'input', '0.01048576', 'draft', 'false'],
      ['Quote "Q" Ltd', 'output', '0.00229376', 'draft', 'false'],
    ]);
    expect(rows[0].invoice_number).toMatch(/^INV-2026-11-\d{6}$/);
    await api.http().get('/v1/exports/invoices.csv?period=November').set(ADMIN).expect(400);
    await api.http().get('/v1/exports/invoices.csv').set(ADMIN).expect(400);
  });

  it('is admin only and refuses bad ranges', async () => {
    await api.http().get('/v1/exports/usage.csv').expect(401);
    await api.http().get('/v1/exports/ledger.csv?from=yesterday').set(ADMIN).expect(400);
  });

  it('streams 300k rows with the first byte at once and memory flat', async () => {
    await db.query(`
      INSERT INTO usage_events (event_id, account_id, model_id, endpoint, occurred_at, rate_card_version, input_tokens,
        cached_input_tokens, output_tokens, cache_reported, cost, usage, ledger_entry_id)
      SELECT 'bulk-' || g, $1, 'qwen3-5-4b', '/v1/chat/completions', '2026-07-01'::timestamptz + g * interval '1 second', 1, 1000, 0, 100,
        true, 0.000047, '{"prompt_tokens":1000,"completion_tokens":100}', 0
      FROM generate_series(1, 300000) g`, [accounts[0]]);
    try {
      const server = api.app.getHttpServer();
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      // Live memory, not garbage: collect before each sample (npm test runs node with --expose-gc).
      const gc = global.gc ?? (() => undefined);
      gc();
      const baseline = process.memoryUsage().heapUsed;
      let peak = baseline;
      let sampledAt = 0;
      let received = 0;
      let firstByteMs = -1;
      let lines = 0;
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        get({ port, host: '127.0.0.1', path: '/v1/exports/usage.csv?from=2026-07-01T00:00:00Z&to=2026-08-01T00:00:00Z', headers: ADMIN }, (res) => {
          res.on('data', (chunk: Buffer) => {
            if (firstByteMs < 0) firstByteMs = performance.now() - started;
            for (const byte of chunk) if (byte === 10) lines++;
            received += chunk.length;
            if (received - sampledAt > 4 * 2 ** 20) {
              sampledAt = received;
              gc();
              peak = Math.max(peak, process.memoryUsage().heapUsed);
            }
          });
          res.on('end', resolve);
          res.on('error', reject);
        }).on('error', reject);
      });
      await new Promise<void>((resolve) => server.close(() => resolve()));
      expect(lines).toBe(300_001);
      expect(firstByteMs).toBeLessThan(1000);
      // The CSV is about 38 MB; streamed, what stays alive is a small, fixed fraction of that.
      expect(received).toBeGreaterThan(35 * 2 ** 20);
      expect((peak - baseline) / 2 ** 20).toBeLessThan(16);
    } finally {
      await db.query("DELETE FROM usage_events WHERE event_id LIKE 'bulk-%'");
    }
  });
});

describe('reconciliation', () => {
  const reconcile = async () => (await api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body;
  /** Changes the data behind the service's back (triggers off), runs the check, then puts it back. */
  async function tampered(change: (tx: EntityManager) => Promise<void>, undo: (tx: EntityManager) => Promise<void>) {
    const bypass = async (fn: (tx: EntityManager) => Promise<void>) =>
      db.transaction(async (tx) => {
        await tx.query('SET LOCAL session_replication_role = replica');
        await fn(tx);
      });
    await bypass(change);
    try {
      return await reconcile();
    } finally {
      await bypass(undo);
    }
  }
  const failed = (report: { checks: { name: string; ok: boolean }[] }) => report.checks.filter((c) => !c.ok).map((c) => c.name);

  it('passes on clean data, naming every check with expected and actual', async () => {
    const report = await reconcile();
    expect(report.ok).toBe(true);
    expect(report.discrepancies).toEqual([]);
    expect(report.checks.map((c: { name: string }) => c.name)).toEqual([
      'balances_match_ledger',
      'ledger_running_balances',
      'usage_debits_match_events',
      'rollups_match_events',
      'monthly_rollups_match_hourly',
      'invoices_tie_out',
      'invoices_chain',
      'invoices_open_at_ledger',
      'invoices_bill_usage_once',
      'invoices_bill_all_usage',
      'no_event_priced_and_rejected',
      'hold_ends_match',
      'holds_active_set',
      'holds_within_credits',
      'grants_fold_to_balances',
      'grant_endings_match_remaining',
      'grants_never_negative',
      'credit_liability_frozen_months',
    ]);
    const usage = report.checks.find((c: { name: string }) => c.name === 'usage_debits_match_events');
    expect(usage).toMatchObject({ ok: true, expected: '0.01277973', actual: '0.01277973' });
  });

  it('catches a balance altered directly in SQL, naming the account', async () => {
    const report = await tampered(
      (tx) => tx.query('UPDATE account_balances SET balance = balance + 100 WHERE account_id = $1', [accounts[2]]),
      (tx) => tx.query('UPDATE account_balances SET balance = balance - 100 WHERE account_id = $1', [accounts[2]]),
    );
    expect(report.ok).toBe(false);
    expect(failed(report)).toEqual(['balances_match_ledger']);
    expect(report.discrepancies).toEqual([expect.objectContaining({ check: 'balances_match_ledger', subject: 'account', id: accounts[2] })]);
  });

  it('catches a rewritten ledger entry', async () => {
    const [entry] = await db.query("SELECT entry_id FROM ledger_entries WHERE kind = 'usage' AND account_id = $1", [accounts[1]]);
    const report = await tampered(
      (tx) => tx.query('UPDATE ledger_entries SET amount = amount + 0.01 WHERE entry_id = $1', [entry.entry_id]),
      (tx) => tx.query('UPDATE ledger_entries SET amount = amount - 0.01 WHERE entry_id = $1', [entry.entry_id]),
    );
    expect(failed(report)).toEqual(['balances_match_ledger', 'ledger_running_balances', 'usage_debits_match_events']);
    expect(report.discrepancies).toContainEqual(expect.objectContaining({ check: 'usage_debits_match_events', subject: 'ledger_entry', id: entry.entry_id }));
  });

  it('catches an event deleted or repriced behind the ledger\'s back', async () => {
    const [event] = await db.query('SELECT * FROM usage_events WHERE account_id = $1', [accounts[2]]);
    const report = await tampered(
      (tx) => tx.query('UPDATE usage_events SET cost = cost * 2 WHERE event_id = $1', [event.event_id]),
      (tx) => tx.query('UPDATE usage_events SET cost = cost / 2 WHERE event_id = $1', [event.event_id]),
    );
    expect(failed(report)).toEqual(['usage_debits_match_events', 'rollups_match_events']);
    expect(report.discrepancies.map((d: { subject: string }) => d.subject).sort()).toEqual(['ledger_entry', 'rollup']);
  });

  it('catches a rollup out of step with its events', async () => {
    const report = await tampered(
      (tx) => tx.query('UPDATE usage_rollups SET requests = requests + 1 WHERE account_id = $1', [accounts[0]]),
      (tx) => tx.query('UPDATE usage_rollups SET requests = requests - 1 WHERE account_id = $1', [accounts[0]]),
    );
    expect(failed(report)).toEqual(['rollups_match_events', 'monthly_rollups_match_hourly']);
    expect(report.discrepancies[0].id).toContain(accounts[0]);
  });

  it('catches an invoice whose lines or balances do not tie out', async () => {
    const [invoice] = await db.query("SELECT invoice_id, number FROM invoices WHERE account_id = $1 AND period = '2026-11-01'", [accounts[1]]);
    const report = await tampered(
      (tx) => tx.query("UPDATE invoice_lines SET tokens = tokens + 1000000, amount = (tokens + 1000000) * unit_price_per_million * 0.000001 WHERE invoice_id = $1 AND token_class = 'input'", [invoice.invoice_id]),
      (tx) => tx.query("UPDATE invoice_lines SET tokens = tokens - 1000000, amount = (tokens - 1000000) * unit_price_per_million * 0.000001 WHERE invoice_id = $1 AND token_class = 'input'", [invoice.invoice_id]),
    );
    // A million more input tokens than were used: the totals no longer tie out, and usage is billed beyond what happened.
    expect(failed(report)).toEqual(['invoices_tie_out', 'invoices_bill_usage_once']);
    expect(report.discrepancies).toEqual([
      expect.objectContaining({ check: 'invoices_tie_out', subject: 'invoice', id: invoice.number }),
      { check: 'invoices_bill_usage_once', subject: 'usage', id: `${accounts[1]} 2026-11 qwen3-5-4b v1 input`, expected: 'at most 262144 tokens (used)', actual: `1262144 tokens on ${invoice.number}` },
    ]);
  });

  it('catches an invoice that does not open at the ledger less what earlier invoices have not billed', async () => {
    const [invoice] = await db.query("SELECT invoice_id, number FROM invoices WHERE account_id = $1 AND period = '2026-11-01'", [accounts[2]]);
    const report = await tampered(
      (tx) => tx.query('UPDATE invoices SET opening_balance = opening_balance + 1, closing_balance = closing_balance + 1 WHERE invoice_id = $1', [invoice.invoice_id]),
      (tx) => tx.query('UPDATE invoices SET opening_balance = opening_balance - 1, closing_balance = closing_balance - 1 WHERE invoice_id = $1', [invoice.invoice_id]),
    );
    expect(failed(report)).toEqual(['invoices_open_at_ledger']);
    expect(report.discrepancies).toEqual([{ check: 'invoices_open_at_ledger', subject: 'invoice', id: invoice.number, expected: '0', actual: '1' }]);
  });

  it('catches usage billed twice', async () => {
    // The November input line of one account moved to October, where that account used nothing.
    const [invoice] = await db.query("SELECT invoice_id, number FROM invoices WHERE account_id = $1 AND period = '2026-11-01'", [accounts[1]]);
    const report = await tampered(
      (tx) => tx.query("UPDATE invoice_lines SET usage_period = '2026-10-01' WHERE invoice_id = $1 AND token_class = 'input'", [invoice.invoice_id]),
      (tx) => tx.query("UPDATE invoice_lines SET usage_period = '2026-11-01' WHERE invoice_id = $1 AND token_class = 'input'", [invoice.invoice_id]),
    );
    expect(failed(report)).toEqual(['invoices_bill_usage_once']);
    expect(report.discrepancies).toEqual([
      { check: 'invoices_bill_usage_once', subject: 'usage', id: `${accounts[1]} 2026-10 qwen3-5-4b v1 input`, expected: 'at most 0 tokens (used)', actual: `262144 tokens on ${invoice.number}` },
    ]);
  });

  it('catches usage that an invoice run left off every invoice', async () => {
    // The late October usage taken off the November invoice that carries it (and its totals with it), as the
    // invoice runs did when October had no invoice.
    const [invoice] = await db.query("SELECT invoice_id, number FROM invoices WHERE account_id = $1 AND period = '2026-11-01'", [accounts[0]]);
    const lines: Record<string, unknown>[] = await db.query("SELECT * FROM invoice_lines WHERE invoice_id = $1 AND usage_period = '2026-10-01'", [invoice.invoice_id]);
    expect(lines).toHaveLength(2);
    const report = await tampered(
      async (tx) => {
        await tx.query("DELETE FROM invoice_lines WHERE invoice_id = $1 AND usage_period = '2026-10-01'", [invoice.invoice_id]);
        await tx.query('UPDATE invoices SET usage_total = usage_total - 0.00000011, closing_balance = closing_balance + 0.00000011 WHERE invoice_id = $1', [invoice.invoice_id]);
      },
      async (tx) => {
        for (const line of lines) await tx.query('INSERT INTO invoice_lines SELECT * FROM json_populate_record(NULL::invoice_lines, $1)', [JSON.stringify(line)]);
        await tx.query('UPDATE invoices SET usage_total = usage_total + 0.00000011, closing_balance = closing_balance - 0.00000011 WHERE invoice_id = $1', [invoice.invoice_id]);
      },
    );
    expect(failed(report)).toEqual(['invoices_bill_all_usage']);
    expect(report.discrepancies).toEqual([
      { check: 'invoices_bill_all_usage', subject: 'invoice', id: invoice.number, expected: '0.00000011 (priced when it was built; 0.00000011 now)', actual: '0' },
    ]);
  });

  it('catches an event both priced and rejected', async () => {
    const [event] = await db.query('SELECT event_id FROM usage_events WHERE account_id = $1', [accounts[0]]);
    const report = await tampered(
      (tx) => tx.query("INSERT INTO rejected_events (event_id, reason, detail, payload, payload_hash, source) VALUES ($1, 'unknown_model', 'x', '{}', 'tamper', 'queue')", [event.event_id]),
      (tx) => tx.query("DELETE FROM rejected_events WHERE payload_hash = 'tamper'"),
    );
    expect(failed(report)).toEqual(['no_event_priced_and_rejected']);
    expect(report.discrepancies).toEqual([expect.objectContaining({ subject: 'event', id: event.event_id })]);
  });
});

describe('finance CLI', () => {
  const run = (script: string, args: string[]) =>
    spawnSync(process.execPath, [script, ...args], { env: { PATH: process.env.PATH, DATABASE_URL: scratch.url }, encoding: 'utf8', timeout: 30_000 });

  it('npm run export writes the same CSV the API serves', async () => {
    const out = `/tmp/ledger-${process.pid}.csv`;
    try {
      const result = run('dist/apps/cli/src/export.js', ['ledger', '--out', out]);
      expect(result.status).toBe(0);
      expect(result.stdout).toMatch(/wrote \d+ rows/);
      const { text } = await csv('/v1/exports/ledger.csv');
      expect(readFileSync(out, 'utf8')).toBe(text);
    } finally {
      rmSync(out, { force: true });
    }
    expect(run('dist/apps/cli/src/export.js', ['payroll', '--out', out]).status).toBe(2);
  });

  it('npm run reconcile exits 0 on clean books and 1 on any discrepancy', async () => {
    const clean = run('dist/apps/cli/src/reconcile.js', []);
    expect(clean.status).toBe(0);
    expect(clean.stdout).toContain('reconciliation ok');
    await db.query('UPDATE account_balances SET balance = balance + 1 WHERE account_id = $1', [accounts[0]]);
    try {
      const dirty = run('dist/apps/cli/src/reconcile.js', ['--from', '2026-01-01']);
      expect(dirty.status).toBe(1);
      expect(dirty.stdout).toContain(`balances_match_ledger: account ${accounts[0]}`);
    } finally {
      await db.query('UPDATE account_balances SET balance = balance - 1 WHERE account_id = $1', [accounts[0]]);
    }
  });
});
