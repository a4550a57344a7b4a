import { Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { DataSource, type EntityManager } from 'typeorm';
import {
  BillingException,
  BillingExceptionCode,
  LIABILITY_FIGURES,
  type LiabilityFigures,
  Money,
  type Period,
  addLiability,
  emptyLiability,
  formatMoney,
  isZeroLiability,
  liabilityCollector,
  parsePeriod,
} from '@app/billing';
import { foldLedger } from './grants.service.js';
import { GrantsRepository } from './repositories/grants.repository.js';

export interface LiabilityRow {
  accountId: string;
  figures: LiabilityFigures;
}

export interface LiabilityReport {
  period: string;
  /** A closed month is frozen: stored the first time it was reported after it ended, never recomputed. */
  frozen: boolean;
  frozenAt: Date | null;
  asOf: Date;
  totals: LiabilityFigures;
  /** By account id. */
  rows: LiabilityRow[];
}

/** A month is frozen only this long after it ends, so no transaction still writing into it is missed. */
export const FREEZE_AFTER_MS = 60_000;

const COLUMNS = LIABILITY_FIGURES.join(', ');

/**
 * Credit liability per account and month, folded from the ledger: each account's grants at the
 * month's start and end (checkpoints whose balance is the current balance less everything written
 * since), and every allocation in between classified as granted, burned, expired or voided, paid
 * or free. The month is ledger time: an entry belongs to the month it was written in, so usage
 * that arrives late lands in the open month, and a closed month can be frozen.
 */
@Injectable()
export class CreditLiabilityService {
  constructor(
    private readonly db: DataSource,
    private readonly grants: GrantsRepository,
  ) {}

  async report(periodId: string, now = new Date()): Promise<LiabilityReport> {
    const period = parsePeriod(periodId);
    if (!period) throw new BillingException(BillingExceptionCode.VALIDATION, 'period must be a month written YYYY-MM, such as 2026-11.', [{ field: 'period', message: 'not YYYY-MM' }]);
    if (period.start > now) throw new BillingException(BillingExceptionCode.VALIDATION, `${period.id} has not started yet.`, [{ field: 'period', message: 'in the future' }]);
    const frozen = await this.frozen(period);
    if (frozen) return frozen;
    const computed = await this.db.transaction('REPEATABLE READ', async (tx) => {
      await tx.query('SET TRANSACTION READ ONLY');
      return this.compute(tx, period);
    });
    if (period.end.getTime() + FREEZE_AFTER_MS > now.getTime()) return computed;
    return this.freeze(period, computed);
  }

  /** The month as the ledger gives it now (in the caller's snapshot). */
  async compute(tx: EntityManager, period: Period): Promise<LiabilityReport> {
    const [ledgers, moves, [{ as_of }]] = await Promise.all([
      this.grants.ledgersOf(tx, null),
      tx.query(
        `SELECT account_id, sum(amount)::text AS since_start, coalesce(sum(amount) FILTER (WHERE created_at >= $2), 0)::text AS since_end
         FROM ledger_entries WHERE created_at >= $1 GROUP BY account_id`,
        [period.start, period.end],
      ) as Promise<{ account_id: string; since_start: string; since_end: string }[]>,
      tx.query('SELECT now() AS as_of') as Promise<{ as_of: Date }[]>,
    ]);
    const since = new Map(moves.map((m) => [m.account_id, { start: new Money(m.since_start), end: new Money(m.since_end) }]));
    const rows: LiabilityRow[] = [];
    for (const ledger of ledgers.values()) {
      if (!ledger.grants.length && !since.has(ledger.accountId) && ledger.balance.isZero()) continue;
      const moved = since.get(ledger.accountId) ?? { start: new Money(0), end: new Money(0) };
      const collector = liabilityCollector(ledger.grants.map((g) => g.spec));
      const fold = foldLedger(ledger, collector.collect, [
        { id: 'start', at: period.start, balance: ledger.balance.sub(moved.start) },
        { id: 'end', at: period.end, balance: ledger.balance.sub(moved.end) },
      ]);
      const figures = collector.finish(fold.snapshots.get('start')!, fold.snapshots.get('end')!);
      if (!isZeroLiability(figures)) rows.push({ accountId: ledger.accountId, figures });
    }
    rows.sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0));
    return { period: period.id, frozen: false, frozenAt: null, asOf: as_of, totals: rows.reduce((t, r) => addLiability(t, r.figures), emptyLiability()), rows };
  }

  /** One CSV row per account (RFC 4180, CRLF), exact decimals. Account ids are [A-Za-z0-9_.:-]: nothing to quote or neutralise. */
  static csv(report: LiabilityReport): Readable {
    function* lines() {
      yield `${['period', 'account_id', ...LIABILITY_FIGURES].join(',')}\r\n`;
      for (const row of report.rows) yield `${[report.period, row.accountId, ...LIABILITY_FIGURES.map((f) => formatMoney(row.figures[f]))].join(',')}\r\n`;
    }
    return Readable.from(lines());
  }

  /** Every frozen month, by period id (reconciliation recomputes them). */
  async frozenMonths(tx: EntityManager | DataSource = this.db): Promise<string[]> {
    const rows: { period: string }[] = await tx.query(`SELECT to_char(period, 'YYYY-MM') AS period FROM credit_liability_months ORDER BY period`);
    return rows.map((r) => r.period);
  }

  async frozen(period: Period, tx: EntityManager | DataSource = this.db): Promise<LiabilityReport | null> {
    const [month]: { frozen_at: Date }[] = await tx.query('SELECT frozen_at FROM credit_liability_months WHERE period = $1::date', [period.id + '-01']);
    if (!month) return null;
    const stored: Record<string, string>[] = await tx.query(
      `SELECT account_id, ${LIABILITY_FIGURES.map((f) => `${f}::text`).join(', ')} FROM credit_liability_rows WHERE period = $1::date ORDER BY account_id`,
      [period.id + '-01'],
    );
    const rows = stored.map((r) => ({
      accountId: r.account_id,
      figures: Object.fromEntries(LIABILITY_FIGURES.map((f) => [f, new Money(r[f])])) as LiabilityFigures,
    }));
    return { period: period.id, frozen: true, frozenAt: month.frozen_at, asOf: month.frozen_at, totals: rows.reduce((t, r) => addLiability(t, r.figures), emptyLiability()), rows };
  }

  /** Stores a closed month once; a concurrent freeze of the same month wins or loses as a whole. */
  private async freeze(period: Period, report: LiabilityReport): Promise<LiabilityReport> {
    await this.db.transaction(async (tx) => {
      const [month] = await tx.query(
        'INSERT INTO credit_liability_months (period, accounts) VALUES ($1::date, $2) ON CONFLICT (period) DO NOTHING RETURNING period',
        [period.id + '-01', report.rows.length],
      );
      if (!month || !report.rows.length) return;
      await tx.query(
        `INSERT INTO credit_liability_rows (period, account_id, ${COLUMNS})
         SELECT $1::date, * FROM unnest($2::text[], ${LIABILITY_FIGURES.map((_, i) => `$${i + 3}::numeric[]`).join(', ')})`,
        [period.id + '-01', report.rows.map((r) => r.accountId), ...LIABILITY_FIGURES.map((f) => report.rows.map((r) => r.figures[f].toFixed()))],
      );
    });
    return (await this.frozen(period))!;
  }
}
