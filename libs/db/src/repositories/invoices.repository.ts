import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { isoSql, moneySql } from './balance-events.sql.js';

export interface InvoiceRow {
  invoice_id: string;
  number: string;
  account_id: string;
  account_name: string;
  period: string;
  status: 'draft' | 'finalized' | 'void';
  currency: string;
  opening_balance: string;
  credits_total: string;
  expired_total: string;
  voided_total: string;
  usage_total: string;
  usage_total_rounded: string;
  closing_balance: string;
  created_at: Date;
  updated_at: Date;
  finalized_at: Date | null;
  voided_at: Date | null;
}

export interface InvoiceLineRow {
  line_no: number;
  model_id: string;
  token_class: 'input' | 'cached_input' | 'output';
  rate_card_version: number;
  unit_price_per_million: string;
  tokens: string;
  amount: string;
  usage_period: string;
}

/** Usage totals per account, usage month, model and rate card version (token sums and cost as strings). */
export interface UsageTotalsRow {
  account_id: string;
  usage_period: string;
  model_id: string;
  rate_card_version: number;
  input: string;
  cached_input: string;
  output: string;
  cost: string;
}

export interface BilledRow {
  account_id: string;
  usage_period: string;
  model_id: string;
  rate_card_version: number;
  token_class: 'input' | 'cached_input' | 'output';
  tokens: string;
}

export interface LiveInvoiceRow {
  account_id: string;
  invoice_id: string;
  period: string;
  status: 'draft' | 'finalized';
  usage_total: string;
}

export interface CreditsRow {
  account_id: string;
  period: string;
  /** Every entry but usage, signed. */
  total: string;
  /** Of which expiries and voids, as positive amounts. */
  expired: string;
  voided: string;
}

/** Everything needed to rebuild the drafts of some accounts, grouped by account. */
export interface ChainInputs {
  invoices: Map<string, LiveInvoiceRow[]>;
  /** All of each account's usage. */
  usage: Map<string, UsageTotalsRow[]>;
  /** What each account's finalized invoices bill. */
  finalizedBilled: Map<string, BilledRow[]>;
  /** Credits and adjustments per account and month they were made in. */
  credits: Map<string, CreditsRow[]>;
}

export interface InvoiceWrite {
  invoiceId: string | null;
  accountId: string;
  period: string;
  opening: string;
  credits: string;
  expired: string;
  voided: string;
  usageTotal: string;
  usageTotalRounded: string;
  closing: string;
  usageSeen: string | null;
  lines: { model: string; tokenClass: string; rateCardVersion: number; unitPrice: string; tokens: string; amount: string; usagePeriod: string }[];
}

const GENERATION_LOCK = 7_000_002;
const month = (period: string) => `${period}-01`;

/**
 * The number's sequence part: at least six digits, more when the month needs them (lpad alone would
 * cut 1000000 down to 100000). Numbers of one month therefore sort by length first, then as text.
 */
const SEQUENCE_DIGITS = (n: string) => `lpad((${n})::text, greatest(6, length((${n})::text)), '0')`;
/** Sort keys that put invoice numbers in issue order: month, then sequence (see SEQUENCE_DIGITS). */
const numberKeys = (number: string) => [`left(${number}, 11)`, `length(${number})`, number];
/** An ORDER BY list of invoice numbers in issue order (or its reverse). */
export const NUMBER_ORDER = (number: string, direction: 'ASC' | 'DESC' = 'ASC') => numberKeys(number).map((key) => `${key} ${direction}`).join(', ');

const INVOICE_COLUMNS = `i.invoice_id, i.number, i.account_id, a.name AS account_name, to_char(i.period, 'YYYY-MM') AS period, i.status,
  trim(i.currency) AS currency, i.opening_balance::text, i.credits_total::text, i.usage_total::text,
  i.usage_total_rounded::text, i.closing_balance::text, i.expired_total::text, i.voided_total::text, i.created_at, i.updated_at, i.finalized_at, i.voided_at`;

@Injectable()
export class InvoicesRepository {
  constructor(private readonly db: DataSource) {}

  /** Runs fn in a transaction that holds the invoicing lock: generation and lifecycle changes take turns. */
  locked<T>(fn: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [GENERATION_LOCK]);
      return fn(tx);
    });
  }

  /**
   * Accounts that get an invoice for the month (all but those whose invoice for it is final):
   * those with a draft for it or credits in it, and those with usage of the month or earlier that
   * no finalized invoice bills and that its invoice would carry (see planDrafts): no finalized
   * invoice of a later month keeps it from carrying usage, and no open draft (one with no
   * finalized invoice after it) of a month in between carries that usage first.
   */
  async accountsToInvoice(period: string): Promise<string[]> {
    const rows: { account_id: string }[] = await this.db.query(
      `WITH bounds AS (SELECT $1::date AS s, ($1::date + interval '1 month') AS e),
       unbilled AS (
         SELECT u.account_id, u.month FROM (
           SELECT account_id, month, sum(input_tokens + cached_input_tokens + output_tokens) AS tokens
           FROM usage_rollups_monthly WHERE month <= $1::date GROUP BY 1, 2
         ) u LEFT JOIN (
           SELECT i.account_id, l.usage_period AS month, sum(l.tokens) AS tokens
           FROM invoice_lines l JOIN invoices i USING (invoice_id)
           WHERE i.status = 'finalized' AND l.usage_period <= $1::date GROUP BY 1, 2
         ) b USING (account_id, month)
         WHERE u.tokens > coalesce(b.tokens, 0)
       )
       SELECT account_id FROM (
         SELECT account_id FROM ledger_entries, bounds WHERE kind <> 'usage' AND created_at >= s AND created_at < e
         UNION SELECT account_id FROM invoices WHERE period = $1::date AND status = 'draft'
         UNION SELECT o.account_id FROM unbilled o
           WHERE NOT EXISTS (SELECT 1 FROM invoices f WHERE f.account_id = o.account_id AND f.status = 'finalized' AND f.period > $1::date)
             AND NOT EXISTS (
               SELECT 1 FROM invoices d WHERE d.account_id = o.account_id AND d.status = 'draft' AND d.period >= o.month AND d.period < $1::date
                 AND NOT EXISTS (SELECT 1 FROM invoices f WHERE f.account_id = d.account_id AND f.status = 'finalized' AND f.period > d.period))
       ) candidates
       WHERE NOT EXISTS (SELECT 1 FROM invoices x WHERE x.account_id = candidates.account_id AND x.period = $1::date AND x.status = 'finalized')
       ORDER BY account_id`,
      [month(period)],
    );
    return rows.map((r) => r.account_id);
  }

  /** The accounts' live invoices, all their usage, what their finalized invoices bill and their credits by month. */
  async chainInputs(tx: EntityManager, accounts: string[]): Promise<ChainInputs> {
    const [invoices, usage, finalizedBilled, credits] = await Promise.all([
      tx.query(
        `SELECT account_id, invoice_id, to_char(period, 'YYYY-MM') AS period, status, usage_total::text AS usage_total
         FROM invoices WHERE account_id = ANY($1) AND status <> 'void'`,
        [accounts],
      ),
      tx.query(
        `SELECT account_id, to_char(month, 'YYYY-MM') AS usage_period, model_id, rate_card_version,
           input_tokens::text AS input, cached_input_tokens::text AS cached_input, output_tokens::text AS output, cost::text AS cost
         FROM usage_rollups_monthly WHERE account_id = ANY($1)`,
        [accounts],
      ),
      tx.query(
        `SELECT i.account_id, to_char(l.usage_period, 'YYYY-MM') AS usage_period, l.model_id, l.rate_card_version, l.token_class,
           sum(l.tokens)::text AS tokens
         FROM invoice_lines l JOIN invoices i USING (invoice_id)
         WHERE i.account_id = ANY($1) AND i.status = 'finalized'
         GROUP BY 1, 2, 3, 4, 5`,
        [accounts],
      ),
      tx.query(
        `SELECT account_id, to_char(date_trunc('month', created_at, 'UTC'), 'YYYY-MM') AS period, sum(amount)::text AS total,
           coalesce(-sum(amount) FILTER (WHERE kind = 'expiry'), 0)::text AS expired, coalesce(-sum(amount) FILTER (WHERE kind = 'void'), 0)::text AS voided
         FROM ledger_entries WHERE account_id = ANY($1) AND kind <> 'usage'
         GROUP BY 1, 2`,
        [accounts],
      ),
    ]);
    return {
      invoices: byAccount<LiveInvoiceRow>(invoices),
      usage: byAccount<UsageTotalsRow>(usage),
      finalizedBilled: byAccount<BilledRow>(finalizedBilled),
      credits: byAccount<CreditsRow>(credits),
    };
  }

  /** Creates the new invoices (all of one month, numbered in account order) and rewrites the drafts; returns the ids. */
  async write(tx: EntityManager, invoices: InvoiceWrite[]): Promise<string[]> {
    const fresh = invoices.filter((i) => i.invoiceId === null);
    if (fresh.length) {
      const period = fresh[0].period;
      if (fresh.some((i) => i.period !== period)) throw new RangeError('new invoices are created for one month at a time');
      const p = month(period);
      const [{ last }] = await tx.query(
        `INSERT INTO invoice_counters (period, last) VALUES ($1::date, $2) ON CONFLICT (period)
         DO UPDATE SET last = invoice_counters.last + excluded.last RETURNING last`,
        [p, fresh.length],
      );
      const first = last - fresh.length + 1;
      const ids: { invoice_id: string }[] = await tx.query(
        `INSERT INTO invoices (invoice_id, number, account_id, period, opening_balance, credits_total, usage_total, usage_total_rounded, closing_balance,
           usage_seen, expired_total, voided_total)
         SELECT 'inv_' || replace(gen_random_uuid()::text, '-', ''), 'INV-' || $1 || '-' || ${SEQUENCE_DIGITS('($2::int) + n - 1')},
           account_id, $3::date, opening, credits, usage_total, rounded, closing, seen, expired, voided
         FROM unnest($4::text[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[], $10::numeric[], $11::numeric[], $12::numeric[])
           WITH ORDINALITY AS t(account_id, opening, credits, usage_total, rounded, closing, seen, expired, voided, n)
         ORDER BY n
         RETURNING invoice_id`,
        [
          period,
          first,
          p,
          fresh.map((i) => i.accountId),
          fresh.map((i) => i.opening),
          fresh.map((i) => i.credits),
          fresh.map((i) => i.usageTotal),
          fresh.map((i) => i.usageTotalRounded),
          fresh.map((i) => i.closing),
          fresh.map((i) => i.usageSeen),
          fresh.map((i) => i.expired),
          fresh.map((i) => i.voided),
        ],
      );
      fresh.forEach((invoice, index) => (invoice.invoiceId = ids[index].invoice_id));
    }
    const drafts = invoices.filter((i) => !fresh.includes(i));
    if (drafts.length) {
      await tx.query('DELETE FROM invoice_lines WHERE invoice_id = ANY($1)', [drafts.map((i) => i.invoiceId)]);
      await tx.query(
        `UPDATE invoices i SET opening_balance = t.opening, credits_total = t.credits, usage_total = t.usage_total,
           usage_total_rounded = t.rounded, closing_balance = t.closing, usage_seen = t.seen, expired_total = t.expired, voided_total = t.voided,
           updated_at = now()
         FROM unnest($1::text[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[])
           AS t(invoice_id, opening, credits, usage_total, rounded, closing, seen, expired, voided)
         WHERE i.invoice_id = t.invoice_id AND i.status = 'draft'`,
        [
          drafts.map((i) => i.invoiceId),
          drafts.map((i) => i.opening),
          drafts.map((i) => i.credits),
          drafts.map((i) => i.usageTotal),
          drafts.map((i) => i.usageTotalRounded),
          drafts.map((i) => i.closing),
          drafts.map((i) => i.usageSeen),
          drafts.map((i) => i.expired),
          drafts.map((i) => i.voided),
        ],
      );
    }
    const lines = invoices.flatMap((i) => i.lines.map((line, index) => ({ ...line, invoiceId: i.invoiceId!, lineNo: index + 1 })));
    if (lines.length) {
      await tx.query(
        `INSERT INTO invoice_lines (invoice_id, line_no, model_id, token_class, rate_card_version, unit_price_per_million, tokens, amount, usage_period)
         SELECT invoice_id, line_no, model_id, token_class, version, price, tokens, amount, (usage_period || '-01')::date
         FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::int[], $6::numeric[], $7::bigint[], $8::numeric[], $9::text[])
           AS t(invoice_id, line_no, model_id, token_class, version, price, tokens, amount, usage_period)`,
        [
          lines.map((l) => l.invoiceId),
          lines.map((l) => l.lineNo),
          lines.map((l) => l.model),
          lines.map((l) => l.tokenClass),
          lines.map((l) => l.rateCardVersion),
          lines.map((l) => l.unitPrice),
          lines.map((l) => l.tokens),
          lines.map((l) => l.amount),
          lines.map((l) => l.usagePeriod),
        ],
      );
    }
    return invoices.map((i) => i.invoiceId!);
  }

  async find(invoiceId: string, tx: EntityManager | DataSource = this.db): Promise<InvoiceRow | null> {
    const rows = await tx.query(`SELECT ${INVOICE_COLUMNS} FROM invoices i JOIN accounts a USING (account_id) WHERE i.invoice_id = $1`, [invoiceId]);
    return rows[0] ?? null;
  }

  /** The lines of several invoices in one query, by invoice id, each in line order. */
  async linesOf(invoiceIds: string[]): Promise<Map<string, InvoiceLineRow[]>> {
    const rows: (InvoiceLineRow & { invoice_id: string })[] = invoiceIds.length
      ? await this.db.query(
          `SELECT invoice_id, line_no, model_id, token_class, rate_card_version, unit_price_per_million, tokens, amount,
             to_char(usage_period, 'YYYY-MM') AS usage_period
           FROM invoice_lines WHERE invoice_id = ANY($1::text[]) ORDER BY invoice_id, line_no`,
          [invoiceIds],
        )
      : [];
    const byInvoice = new Map<string, InvoiceLineRow[]>(invoiceIds.map((id) => [id, []]));
    for (const { invoice_id, ...line } of rows) byInvoice.get(invoice_id)!.push(line);
    return byInvoice;
  }

  listForAccount(accountId: string, query: { before?: string; limit: number }): Promise<InvoiceRow[]> {
    return this.db.query(
      `SELECT ${INVOICE_COLUMNS} FROM invoices i JOIN accounts a USING (account_id)
       WHERE i.account_id = $1 AND ($2::text IS NULL OR (${numberKeys('i.number').join(', ')}) < (${numberKeys('$2::text').join(', ')}))
       ORDER BY ${NUMBER_ORDER('i.number', 'DESC')} LIMIT $3`,
      [accountId, query.before ?? null, query.limit],
    );
  }

  draftsOf(period: string): Promise<{ invoice_id: string; number: string }[]> {
    return this.db.query(`SELECT invoice_id, number FROM invoices WHERE period = $1::date AND status = 'draft' ORDER BY ${NUMBER_ORDER('number')}`, [month(period)]);
  }

  /** The live invoice just before this one for the same account, if any. */
  async previous(tx: EntityManager, invoice: InvoiceRow): Promise<{ number: string; status: string } | null> {
    const rows = await tx.query(
      `SELECT number, status FROM invoices WHERE account_id = $1 AND status <> 'void' AND period < $2::date ORDER BY period DESC LIMIT 1`,
      [invoice.account_id, month(invoice.period)],
    );
    return rows[0] ?? null;
  }

  /** The account's finalized invoices after this one: the newest, and the tokens of this one's month they bill as late usage. */
  async finalizedAfter(tx: EntityManager, invoice: InvoiceRow): Promise<{ newest: string; late_tokens: string } | null> {
    const rows = await tx.query(
      `SELECT (array_agg(i.number ORDER BY i.period DESC))[1] AS newest, coalesce(sum(l.tokens), 0)::text AS late_tokens
       FROM invoices i LEFT JOIN invoice_lines l ON l.invoice_id = i.invoice_id AND l.usage_period = $2::date
       WHERE i.account_id = $1 AND i.status = 'finalized' AND i.period > $2::date
       HAVING count(*) > 0`,
      [invoice.account_id, month(invoice.period)],
    );
    return rows[0] ?? null;
  }

  /** Finalizing writes invoice.finalized into the outbox in the same statement. */
  async setStatus(tx: EntityManager, invoiceId: string, status: 'finalized' | 'void'): Promise<void> {
    await tx.query(
      status === 'finalized'
        ? `WITH finalized AS (
             UPDATE invoices SET status = 'finalized', finalized_at = now(), updated_at = now() WHERE invoice_id = $1 AND status = 'draft'
             RETURNING invoice_id, number, account_id, period, usage_total, usage_total_rounded, closing_balance, finalized_at
           )
           INSERT INTO webhook_events (type, account_id, data)
           SELECT 'invoice.finalized', account_id, jsonb_build_object('invoice_id', invoice_id, 'number', number, 'account_id', account_id,
             'period', to_char(period, 'YYYY-MM'), 'usage_total', ${moneySql('usage_total')}, 'usage_total_rounded', round(usage_total_rounded, 2)::text,
             'closing_balance', ${moneySql('closing_balance')}, 'finalized_at', ${isoSql('finalized_at')})
           FROM finalized`
        : `UPDATE invoices SET status = 'void', voided_at = now(), updated_at = now() WHERE invoice_id = $1 AND status = 'finalized'`,
      [invoiceId],
    );
  }
}

/** Rows grouped by account. */
function byAccount<T extends { account_id: string }>(rows: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.account_id);
    if (group) group.push(row);
    else groups.set(row.account_id, [row]);
  }
  return groups;
}
