import { Injectable } from '@nestjs/common';
import { stringify } from 'csv-stringify';
import { PassThrough, type Readable, pipeline } from 'node:stream';
import QueryStream from 'pg-query-stream';
import { DataSource } from 'typeorm';

export const EXPORT_KINDS = ['usage', 'ledger', 'invoices'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export interface ExportFilter {
  from?: Date;
  to?: Date;
  /** invoices: the month, YYYY-MM */
  period?: string;
}

/** Rows fetched from the cursor at a time: large enough to keep the socket busy, small enough to stay flat. */
const CURSOR_BATCH = 2_000;

const ISO = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** numeric as stored, without the padding zeros of its scale: exact, never through a float. */
const DECIMAL = (column: string) => `trim_scale(${column})::text`;

interface ExportQuery {
  columns: string[];
  sql: string;
  params: unknown[];
}

function range(column: string, filter: ExportFilter, params: unknown[]): string {
  const where: string[] = [];
  if (filter.from) where.push(`${column} >= $${params.push(filter.from)}`);
  if (filter.to) where.push(`${column} < $${params.push(filter.to)}`);
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

/** Builds the SELECT list from [column, expression] pairs: every value is aliased to its CSV column. */
function select(pairs: [string, string][]): { columns: string[]; list: string } {
  return { columns: pairs.map(([column]) => column), list: pairs.map(([column, expression]) => `${expression} AS "${column}"`).join(', ') };
}

function query(kind: ExportKind, filter: ExportFilter): ExportQuery {
  const params: unknown[] = [];
  switch (kind) {
    case 'usage': {
      const { columns, list } = select([
        ['event_id', 'event_id'],
        ['account_id', 'account_id'],
        ['occurred_at', ISO('occurred_at')],
        ['model', 'model_id'],
        ['endpoint', 'endpoint'],
        ['rate_card_version', 'rate_card_version'],
        ['input_tokens', 'input_tokens'],
        ['cached_input_tokens', 'cached_input_tokens'],
        ['output_tokens', 'output_tokens'],
        ['cache_reported', 'cache_reported'],
        ['cost', DECIMAL('cost')],
        ['ledger_entry_id', 'ledger_entry_id::text'],
        ['received_at', ISO('received_at')],
      ]);
      // ORDER BY names the table's columns: the select list's aliases hold the formatted text.
      return { columns, sql: `SELECT ${list} FROM usage_events u ${range('u.occurred_at', filter, params)} ORDER BY u.occurred_at, u.event_id`, params };
    }
    case 'ledger': {
      const { columns, list } = select([
        ['entry_id', 'entry_id::text'],
        ['account_id', 'account_id'],
        ['kind', 'kind'],
        ['credit_kind', 'credit_kind'],
        ['amount', DECIMAL('amount')],
        ['balance_after', DECIMAL('balance_after')],
        ['created_at', ISO('created_at')],
        ['reference', 'reference'],
        ['event_count', 'event_count'],
      ]);
      return { columns, sql: `SELECT ${list} FROM ledger_entries l ${range('l.created_at', filter, params)} ORDER BY l.entry_id`, params };
    }
    case 'invoices': {
      params.push(`${filter.period}-01`);
      const { columns, list } = select([
        ['invoice_number', 'i.number'],
        ['invoice_id', 'i.invoice_id'],
        ['account_id', 'i.account_id'],
        ['account_name', 'a.name'],
        ['period', "to_char(i.period, 'YYYY-MM')"],
        ['status', 'i.status'],
        ['line_no', 'l.line_no'],
        ['model', 'l.model_id'],
        ['token_class', 'l.token_class'],
        ['rate_card_version', 'l.rate_card_version'],
        ['unit_price_per_million', DECIMAL('l.unit_price_per_million')],
        ['tokens', 'l.tokens::text'],
        ['amount', DECIMAL('l.amount')],
        ['usage_period', "to_char(l.usage_period, 'YYYY-MM')"],
        ['late', 'l.usage_period <> i.period'],
        ['usage_total', DECIMAL('i.usage_total')],
        ['usage_total_rounded', 'i.usage_total_rounded::text'],
        ['opening_balance', DECIMAL('i.opening_balance')],
        ['credits_total', DECIMAL('i.credits_total')],
        ['closing_balance', DECIMAL('i.closing_balance')],
      ]);
      return {
        columns,
        sql: `SELECT ${list} FROM invoices i JOIN accounts a USING (account_id) JOIN invoice_lines l USING (invoice_id)
              WHERE i.period = $1::date ORDER BY i.number, l.line_no`,
        params,
      };
    }
  }
}

/**
 * Finance exports as RFC 4180 CSV, streamed from a Postgres cursor: rows are read as the client
 * takes them (backpressure end to end), so memory stays flat and the first byte leaves at once.
 */
@Injectable()
export class ExportsService {
  constructor(private readonly db: DataSource) {}

  columns(kind: ExportKind): string[] {
    return query(kind, { period: '2000-01' }).columns;
  }

  /** A stream of CSV text with a header row; the database connection is released when it ends or is destroyed. */
  async csv(kind: ExportKind, filter: ExportFilter, onRow?: () => void): Promise<Readable> {
    const { columns, sql, params } = query(kind, filter);
    const runner = this.db.createQueryRunner('slave');
    await runner.connect();
    let released = false;
    const release = () => {
      if (!released) {
        released = true;
        void runner.release();
      }
    };
    try {
      await runner.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // Stream in index order rather than sort the whole range before the first row, and skip JIT:
      // compiling a long select list costs about a second before the first row, for nothing.
      await runner.query('SET LOCAL enable_sort = off');
      await runner.query('SET LOCAL jit = off');
      const client = (await runner.connect()) as { query: (stream: QueryStream) => Readable };
      const rows = client.query(new QueryStream(sql, params, { batchSize: CURSOR_BATCH, rowMode: 'array' }));
      const csv = stringify({ header: true, columns, record_delimiter: '\r\n', cast: { boolean: (value) => (value ? 'true' : 'false') } });
      const out = new PassThrough();
      const counted = onRow
        ? new PassThrough({
            objectMode: true,
            transform(row: unknown[], _encoding, done) {
              onRow();
              done(null, row);
            },
          })
        : new PassThrough({ objectMode: true });
      pipeline(rows, counted, csv, out, () => {
        void runner.query('COMMIT').catch(() => undefined).finally(release);
      });
      return out;
    } catch (error) {
      await runner.query('ROLLBACK').catch(() => undefined);
      release();
      throw error;
    }
  }
}
