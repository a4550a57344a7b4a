import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { parsePeriod } from '@app/billing';
import { ExportsService, ReconciliationService, type ExportKind } from '@app/db';
import { AdminOnly } from '../auth/auth.decorators.js';
import { TimeRangeQuery, parseRange } from '../common/pagination.js';
import { badRequest } from '../common/problem.js';
import { sendCsv } from '../common/csv-response.js';
import { PeriodQuery, ReconciliationResponse } from './finance.dto.js';

@ApiTags('finance')
@Controller('v1')
export class FinanceController {
  constructor(
    private readonly exports: ExportsService,
    private readonly reconciliation: ReconciliationService,
  ) {}

  @Get('exports/usage.csv')
  @AdminOnly()
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'one row per priced event, occurred_at in [from, to)' })
  usage(@Query() query: TimeRangeQuery, @Res() response: Response) {
    return this.stream(response, 'usage', parseRange(query), 'usage');
  }

  @Get('exports/ledger.csv')
  @AdminOnly()
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'one row per ledger entry, created_at in [from, to)' })
  ledger(@Query() query: TimeRangeQuery, @Res() response: Response) {
    return this.stream(response, 'ledger', parseRange(query), 'ledger');
  }

  @Get('exports/invoices.csv')
  @AdminOnly()
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'one row per invoice line of the month' })
  invoices(@Query() query: PeriodQuery, @Res() response: Response) {
    if (!parsePeriod(query.period)) throw badRequest('period must be a month written YYYY-MM.', [{ field: 'period', message: 'not YYYY-MM' }]);
    return this.stream(response, 'invoices', { period: query.period }, `invoices-${query.period}`);
  }

  @Get('reconciliation')
  @AdminOnly()
  @ApiOkResponse({ type: ReconciliationResponse })
  reconcile(@Query() query: TimeRangeQuery) {
    return this.reconciliation.run(parseRange(query));
  }

  private async stream(response: Response, kind: ExportKind, filter: { from?: Date; to?: Date; period?: string }, name: string) {
    return sendCsv(response, await this.exports.csv(kind, filter), name);
  }
}
