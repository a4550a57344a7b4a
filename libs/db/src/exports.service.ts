import { Injectable } from '@nestjs/common';
import { Transform, type Readable, pipeline } from 'node:stream';
import { to as copyTo } from 'pg-copy-streams';
import { DataSource } from 'typeorm';
import { NUMBER_ORDER } from './repositories/invoices.repository.js';

export const EXPORT_KINDS = ['usage', 'ledger', 'invoices'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

export interface ExportFilter {
  from?: Date;
  to?: Date;
  /** invoices: the month, YYYY-MM */
  period?: string;
  /** usage and ledger: one account's rows only */
  accountId?: string;
}

const ISO = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** numeric as stored, without the padding zeros of its scale: exact, never through a float. */
const DECIMAL = (column: string) => `trim_scale(${column})::text`;
/**
 * A text cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or a
 * carriage return) gets a leading apostrophe, as OWASP recommends for CSV injection; any other
 * text is left as it is. Every text column goes through this; numbers, times and booleans never do.
 */
const TEXT = (column: string) => `CASE WHEN left(${column}, 1) IN ('=', '+', '-', '@', chr(9), chr(13)) THEN '''' || ${column} ELSE ${column} END`;

/**
 * COPY takes no bind parameters, so bounds are written into the statement. They only ever come
 * from Date objects the service made (toISOString) or a period checked against YYYY-MM.
 */
const instant = (date: Date) => `'${date.toISOString()}'::timestamptz`;
/** Account ids are checked against the accounts table's own pattern, which admits no quote. */
function account(accountId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/.test(accountId)) throw new RangeError('not an account id');
  return `'${accountId}'`;
}
function range(column: string, filter: ExportFilter): string {
  const where: string[] = [];
  if (filter.accountId !== undefined) where.push(`account_id = ${account(filter.accountId)}`);
  if (filter.from) where.push(`${column} >= ${instant(filter.from)}`);
  if (filter.to) where.push(`${column} < ${instant(filter.to)}`);
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

/**
 * The SELECT list from [column, expression] pairs: every value is aliased to its CSV column. One
 * more column closes it, always NULL, which COPY writes as nothing after a last comma, so that
 * every record ends in ",\n" (see CrlfRecords); it is not in the header and leaves no trace in the CSV.
 */
const select = (pairs: [string, string][]) =>
  [...pairs.map(([column, expression]) => `${expression} AS "${column}"`), 'NULL::text AS "end of record"'].join(', ');

/** Each export's CSV columns, in order, with the SQL that writes each value. */
const COLUMNS: Record<ExportKind, [column: string, expression: string][]> = {
  usage: [
    ['event_id', TEXT('event_id')],
    ['account_id', TEXT('account_id')],
    ['occurred_at', ISO('occurred_at')],
    ['model', TEXT('model_id')],
    ['endpoint', TEXT('endpoint')],
    ['rate_card_version', 'rate_card_version'],
    ['input_tokens', 'input_tokens'],
    ['cached_input_tokens', 'cached_input_tokens'],
    ['output_tokens', 'output_tokens'],
    ['cache_reported', 'cache_reported::text'],
    ['cost', DECIMAL('cost')],
    ['ledger_entry_id', 'ledger_entry_id'],
    ['received_at', ISO('received_at')],
  ],
  ledger: [
    ['entry_id', 'entry_id'],
    ['account_id', TEXT('account_id')],
    ['kind', TEXT('kind')],
    ['credit_kind', TEXT('credit_kind')],
    ['amount', DECIMAL('amount')],
    ['balance_after', DECIMAL('balance_after')],
    ['created_at', ISO('created_at')],
    ['reference', TEXT('reference')],
    ['event_count', 'event_count'],
  ],
  invoices: [
    ['invoice_number', TEXT('i.number')],
    ['invoice_id', TEXT('i.invoice_id')],
    ['account_id', TEXT('i.account_id')],
    ['account_name', TEXT('a.name')],
    ['period', "to_char(i.period, 'YYYY-MM')"],
    ['status', TEXT('i.status')],
    ['line_no', 'l.line_no'],
    ['model', TEXT('l.model_id')],
    ['token_class', TEXT('l.token_class')],
    ['rate_card_version', 'l.rate_card_version'],
    ['unit_price_per_million', DECIMAL('l.unit_price_per_million')],
    ['tokens', 'l.tokens'],
    ['amount', DECIMAL('l.amount')],
    ['usage_period', "to_char(l.usage_period, 'YYYY-MM')"],
    ['late', '(l.usage_period <> i.period)::text'],
    ['usage_total', DECIMAL('i.usage_total')],
    ['usage_total_rounded', 'i.usage_total_rounded::text'],
    ['opening_balance', DECIMAL('i.opening_balance')],
    ['credits_total', DECIMAL('i.credits_total')],
    ['closing_balance', DECIMAL('i.closing_balance')],
    ['expired_total', DECIMAL('i.expired_total')],
    ['voided_total', DECIMAL('i.voided_total')],
  ],
};

/** The header row of an export. */
export const exportColumns = (kind: ExportKind): string[] => COLUMNS[kind].map(([column]) => column);

function query(kind: ExportKind, filter: ExportFilter): string {
  switch (kind) {
    case 'usage':
      // ORDER BY names the table's columns: the select list's aliases hold the formatted text.
      return `SELECT ${select(COLUMNS.usage)} FROM usage_events u ${range('u.occurred_at', filter)} ORDER BY u.occurred_at, u.event_id`;
    case 'ledger':
      return `SELECT ${select(COLUMNS.ledger)} FROM ledger_entries l ${range('l.created_at', filter)} ORDER BY l.entry_id`;
    case 'invoices': {
      if (!/^\d{4}-\d{2}$/.test(filter.period ?? '')) throw new RangeError('invoices export needs a period YYYY-MM');
      return `SELECT ${select(COLUMNS.invoices)} FROM invoices i JOIN accounts a USING (account_id) JOIN invoice_lines l USING (invoice_id)
        WHERE i.period = '${filter.period}-01'::date ORDER BY ${NUMBER_ORDER('i.number')}, l.line_no`;
    }
  }
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const CR_BYTE = Buffer.from([CR]);
const COMMA_BYTE = Buffer.from([COMMA]);

/**
 * Postgres writes CSV records ending in LF; RFC 4180 ends them with CRLF. The exports' queries
 * close every record with an empty last column (select() above), so each record reaches this
 * stream ending in ",\n": it writes CR over that comma, in the chunk it was given, and passes the
 * chunk on. Line breaks inside quoted fields are left alone; quotes are tracked across chunks (a
 * doubled quote toggles twice, so it needs no special case). It writes the header row first (the
 * COPY has none) and counts the records after it.
 *
 * Why in place: a copy of every chunk, which an LF to CRLF conversion needs, made a million-row
 * export's buffers pile up between garbage collections: the API's peak RSS rose about 8 MB more
 * (bench/README.md, "The usage export's memory").
 */
export class CrlfRecords extends Transform {
  private quoted = false;
  /** The last chunk ended in an unquoted comma, held back until the next shows whether it ends a record. */
  private heldComma = false;

  constructor(header: readonly string[], private readonly onRecord?: () => void) {
    super();
    this.push(`${header.join(',')}\r\n`);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null, data?: Buffer) => void): void {
    if (chunk.length === 0) return done();
    let quoted = this.quoted;
    const afterHeldComma = this.heldComma;
    if (afterHeldComma) {
      this.heldComma = false;
      this.push(chunk[0] === LF ? CR_BYTE : COMMA_BYTE);
    }
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i];
      if (byte === QUOTE) quoted = !quoted;
      else if (byte === LF && !quoted) {
        if (i === 0 ? !afterHeldComma : chunk[i - 1] !== COMMA) return done(new Error('CSV record without its empty last column'));
        if (i > 0) chunk[i - 1] = CR;
        this.onRecord?.();
      }
    }
    this.quoted = quoted;
    if (!quoted && chunk[chunk.length - 1] === COMMA) {
      this.heldComma = true;
      return done(null, chunk.subarray(0, chunk.length - 1));
    }
    done(null, chunk);
  }

  override _flush(done: (error?: Error | null, data?: Buffer) => void): void {
    done(null, this.heldComma ? COMMA_BYTE : undefined);
  }
}

/**
 * Finance exports as RFC 4180 CSV with a header row. Postgres formats the CSV itself (COPY ... TO
 * STDOUT WITH (FORMAT csv, HEADER)) from a read-only repeatable-read snapshot, and the bytes are
 * piped to the client with backpressure: Node only passes buffers along, so memory stays flat, CPU
 * stays low, and the first byte leaves at once. (csv-stringify did this row by row in JavaScript,
 * which made the API the bottleneck and grew its heap to 300 MB over a million rows.)
 */
@Injectable()
export class ExportsService {
  constructor(private readonly db: DataSource) {}

  /** The SELECT an export runs inside COPY (its plan can be checked with EXPLAIN). */
  static sql(kind: ExportKind, filter: ExportFilter): string {
    return query(kind, filter);
  }

  /** A stream of CSV bytes; the database connection is released when it ends or is destroyed. */
  async csv(kind: ExportKind, filter: ExportFilter, onRow?: () => void): Promise<Readable> {
    const sql = query(kind, filter);
    const runner = this.db.createQueryRunner('slave');
    const client = (await runner.connect()) as { query: (stream: ReturnType<typeof copyTo>) => Readable };
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
      const copy = client.query(copyTo(`COPY (${sql}) TO STDOUT WITH (FORMAT csv)`));
      const records = new CrlfRecords(exportColumns(kind), onRow);
      pipeline(copy, records, (error) => {
        void runner.query(error ? 'ROLLBACK' : 'COMMIT').catch(() => undefined).finally(release);
      });
      return records;
    } catch (error) {
      await runner.query('ROLLBACK').catch(() => undefined);
      release();
      throw error;
    }
  }
}
