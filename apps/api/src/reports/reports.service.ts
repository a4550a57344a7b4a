import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { LIABILITY_FIGURES, type LiabilityFigures, formatMoney } from '@app/billing';
import { CreditLiabilityService } from '@app/db';
import { decodeCursor, encodeCursor } from '../common/pagination.js';
import type { LiabilityFiguresResponse, LiabilityQuery, LiabilityReportResponse } from './reports.dto.js';

const ACCOUNT_CURSOR = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

const figuresOf = (f: LiabilityFigures): LiabilityFiguresResponse =>
  Object.fromEntries(LIABILITY_FIGURES.map((k) => [k, formatMoney(f[k])])) as unknown as LiabilityFiguresResponse;

@Injectable()
export class ReportsService {
  constructor(private readonly liability: CreditLiabilityService) {}

  /** The month's figures per account (by account id, paginated) and their totals over every account. */
  async creditLiability(query: LiabilityQuery): Promise<LiabilityReportResponse> {
    const after = decodeCursor(query.cursor, ACCOUNT_CURSOR);
    const report = await this.liability.report(query.period);
    const rows = after === undefined ? report.rows : report.rows.filter((r) => r.accountId > after);
    const page = rows.slice(0, query.limit);
    return {
      period: report.period,
      frozen: report.frozen,
      frozen_at: report.frozenAt?.toISOString() ?? null,
      as_of: report.asOf.toISOString(),
      totals: figuresOf(report.totals),
      data: page.map((r) => ({ account_id: r.accountId, ...figuresOf(r.figures) })),
      next_cursor: rows.length > query.limit ? encodeCursor(page[page.length - 1].accountId) : null,
    };
  }

  async creditLiabilityCsv(period: string): Promise<Readable> {
    return CreditLiabilityService.csv(await this.liability.report(period));
  }
}
