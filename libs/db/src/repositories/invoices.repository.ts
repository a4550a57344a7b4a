import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';

/** Late usage is looked for in finalized months up to this far back. */
export const LATE_USAGE_MONTHS = 24;

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

/** Usage totals per account, usage month, model and rate card version (token sums as strings). */
export interface UsageTotalsRow {
  account_id: string;
  usage_period: string;
  model_id: string;
  rate_card_version: number;
  input: string;
  cached_input: string;
  output: string;
}

export interface BilledRow {
  account_id: string;
  usage_period: string;
  model_id: string;
  rate_card_version: number;
  token_class: 'input' | 'cached_input' | 'output';
  tokens: string;
}

/** Everything needed to (re)build the invoices of some accounts for one month. */
export interface GenerationInputs {
  existing: Map<string, { invoice_id: string; status: 'draft' | 'finalized' }>;
  usage: UsageTotalsRow[];
  billed: BilledRow[];
  credits: Map<string, string>;
  opening: Map<string, string>;
}

export interface InvoiceWrite {
  invoiceId: string | null;
  accountId: string;
  opening: string;
  credits: string;
  usageTotal: string;
  usageTotalRounded: string;
  closing: string;
  lines: { model: string; tokenClass: string; rateCardVersion: number; unitPrice: string; tokens: string; amount: string; usagePeriod: string }[];
}

const GENERATION_LOCK = 7_000_002;
const month = (period: string) => `${period}-01`;

/**
 * A finalized invoice `f` of an earlier month (at most LATE_USAGE_MONTHS before the month starting
 * at `start`) whose late usage the month's invoice carries: no draft lies between the two, so
 * the month's invoice is the first open one after it. `months` is the SQL for LATE_USAGE_MONTHS.
 */
const OWED_BY_FINALIZED = (start: string, months: string) => `f.status = 'finalized' AND f.period < ${start}
  AND f.period >= ${start} - make_interval(months => ${months})
  AND NOT EXISTS (SELECT 1 FROM invoices d WHERE d.account_id = f.account_id AND d.status = 'draft' AND d.period > f.period AND d.period < ${start})`;

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
  i.usage_total_rounded::text, i.closing_balance::text, i.created_at, i.updated_at, i.finalized_at, i.voided_at`;

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
   * Accounts that get an invoice for the month: usage or credits in it, a draft for it already,
   * or usage of an earlier, finalized month that no invoice carries yet and that no draft in
   * between will carry. Accounts whose invoice for the month is final are left out.
   */
  async accountsToInvoice(period: string): Promise<string[]> {
    const rows: { account_id: string }[] = await this.db.query(
      `WITH bounds AS (SELECT $1::date AS s, ($1::date + interval '1 month') AS e)
       SELECT account_id FROM (
         SELECT DISTINCT account_id FROM usage_rollups_monthly WHERE month = $1::date
         UNION SELECT account_id FROM ledger_entries, bounds WHERE kind <> 'usage' AND created_at >= s AND created_at < e
         UNION SELECT account_id FROM invoices WHERE period = $1::date AND status = 'draft'
         UNION SELECT f.account_id FROM invoices f, bounds
           WHERE ${OWED_BY_FINALIZED('s', '$2')}
             AND (SELECT coalesce(sum(r.input_tokens + r.cached_input_tokens + r.output_tokens), 0) FROM usage_rollups_monthly r
                  WHERE r.account_id = f.account_id AND r.month = f.period)
               > (SELECT coalesce(sum(l.tokens), 0) FROM invoice_lines l JOIN invoices i USING (invoice_id)
                  WHERE i.account_id = f.account_id AND i.status <> 'void' AND l.usage_period = f.period)
       ) candidates
       WHERE NOT EXISTS (SELECT 1 FROM invoices x WHERE x.account_id = candidates.account_id AND x.period = $1::date AND x.status = 'finalized')
       ORDER BY account_id`,
      [month(period), LATE_USAGE_MONTHS],
    );
    return rows.map((r) => r.account_id);
  }

  async inputs(tx: EntityManager, period: string, accounts: string[]): Promise<GenerationInputs> {
    const p = month(period);
    const [existing, usage, billed, credits, opening] = await Promise.all([
      tx.query(`SELECT account_id, invoice_id, status FROM invoices WHERE account_id = ANY($1) AND period = $2::date AND status <> 'void'`, [accounts, p]),
      // The month's own usage, and that of earlier finalized months this invoice is the first open one after.
      tx.query(
        `WITH sources AS (
           SELECT $1::text[] AS accounts, $2::date AS s
         ), months AS (
           SELECT a.account_id, $2::date AS period FROM unnest($1::text[]) a(account_id)
           UNION ALL
           SELECT f.account_id, f.period FROM invoices f, sources
           WHERE f.account_id = ANY(accounts) AND ${OWED_BY_FINALIZED('s', '$3')}
         )
         SELECT r.account_id, to_char(m.period, 'YYYY-MM') AS usage_period, r.model_id, r.rate_card_version,
           sum(r.input_tokens)::text AS input, sum(r.cached_input_tokens)::text AS cached_input, sum(r.output_tokens)::text AS output
         FROM months m JOIN usage_rollups_monthly r ON r.account_id = m.account_id AND r.month = m.period
         GROUP BY 1, 2, 3, 4`,
        [accounts, p, LATE_USAGE_MONTHS],
      ),
      // What other live invoices already carry for those earlier months.
      tx.query(
        `SELECT i.account_id, to_char(l.usage_period, 'YYYY-MM') AS usage_period, l.model_id, l.rate_card_version, l.token_class,
           sum(l.tokens)::text AS tokens
         FROM invoice_lines l JOIN invoices i USING (invoice_id)
         WHERE i.account_id = ANY($1) AND i.status <> 'void' AND i.period <> $2::date
           AND l.usage_period < $2::date AND l.usage_period >= $2::date - make_interval(months => $3)
         GROUP BY 1, 2, 3, 4, 5`,
        [accounts, p, LATE_USAGE_MONTHS],
      ),
      tx.query(
        `SELECT account_id, sum(amount)::text AS total FROM ledger_entries
         WHERE account_id = ANY($1) AND kind <> 'usage' AND created_at >= $2::date AND created_at < $2::date + interval '1 month'
         GROUP BY 1`,
        [accounts, p],
      ),
      // Each month opens where the previous live invoice closed; the first opens at the balance the
      // ledger and the rollups give at the start of the month.
      tx.query(
        `SELECT a.account_id, coalesce(prev.closing_balance,
           coalesce((SELECT sum(amount) FROM ledger_entries l WHERE l.account_id = a.account_id AND l.kind <> 'usage' AND l.created_at < $2::date), 0)
           - coalesce((SELECT sum(cost) FROM usage_rollups_monthly r WHERE r.account_id = a.account_id AND r.month < $2::date), 0))::text AS opening
         FROM unnest($1::text[]) a(account_id)
         LEFT JOIN LATERAL (
           SELECT closing_balance FROM invoices i WHERE i.account_id = a.account_id AND i.status <> 'void' AND i.period < $2::date
           ORDER BY i.period DESC LIMIT 1
         ) prev ON true`,
        [accounts, p],
      ),
    ]);
    return {
      existing: new Map(existing.map((r: { account_id: string; invoice_id: string; status: 'draft' | 'finalized' }) => [r.account_id, r])),
      usage,
      billed,
      credits: new Map(credits.map((r: { account_id: string; total: string }) => [r.account_id, r.total])),
      opening: new Map(opening.map((r: { account_id: string; opening: string }) => [r.account_id, r.opening])),
    };
  }

  /** Creates the new invoices (numbered in account order) and rewrites the drafts; returns the ids. */
  async write(tx: EntityManager, period: string, invoices: InvoiceWrite[]): Promise<string[]> {
    const p = month(period);
    const fresh = invoices.filter((i) => i.invoiceId === null);
    if (fresh.length) {
      const [{ last }] = await tx.query(
        `INSERT INTO invoice_counters (period, last) VALUES ($1::date, $2) ON CONFLICT (period)
         DO UPDATE SET last = invoice_counters.last + excluded.last RETURNING last`,
        [p, fresh.length],
      );
      const first = last - fresh.length + 1;
      const ids: { invoice_id: string }[] = await tx.query(
        `INSERT INTO invoices (invoice_id, number, account_id, period, opening_balance, credits_total, usage_total, usage_total_rounded, closing_balance)
         SELECT 'inv_' || replace(gen_random_uuid()::text, '-', ''), 'INV-' || $1 || '-' || ${SEQUENCE_DIGITS('($2::int) + n - 1')},
           account_id, $3::date, opening, credits, usage_total, rounded, closing
         FROM unnest($4::text[], $5::numeric[], $6::numeric[], $7::numeric[], $8::numeric[], $9::numeric[]) WITH ORDINALITY
           AS t(account_id, opening, credits, usage_total, rounded, closing, n)
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
        ],
      );
      fresh.forEach((invoice, index) => (invoice.invoiceId = ids[index].invoice_id));
    }
    const drafts = invoices.filter((i) => !fresh.includes(i));
    if (drafts.length) {
      await tx.query('DELETE FROM invoice_lines WHERE invoice_id = ANY($1)', [drafts.map((i) => i.invoiceId)]);
      await tx.query(
        `UPDATE invoices i SET opening_balance = t.opening, credits_total = t.credits, usage_total = t.usage_total,
           usage_total_rounded = t.rounded, closing_balance = t.closing, updated_at = now()
         FROM unnest($1::text[], $2::numeric[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[])
           AS t(invoice_id, opening, credits, usage_total, rounded, closing)
         WHERE i.invoice_id = t.invoice_id AND i.status = 'draft'`,
        [
          drafts.map((i) => i.invoiceId),
          drafts.map((i) => i.opening),
          drafts.map((i) => i.credits),
          drafts.map((i) => i.usageTotal),
          drafts.map((i) => i.usageTotalRounded),
          drafts.map((i) => i.closing),
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

  async setStatus(tx: EntityManager, invoiceId: string, status: 'finalized' | 'void'): Promise<void> {
    await tx.query(
      status === 'finalized'
        ? `UPDATE invoices SET status = 'finalized', finalized_at = now(), updated_at = now() WHERE invoice_id = $1 AND status = 'draft'`
        : `UPDATE invoices SET status = 'void', voided_at = now(), updated_at = now() WHERE invoice_id = $1 AND status = 'finalized'`,
      [invoiceId],
    );
  }
}
