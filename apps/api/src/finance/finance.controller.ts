import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { parsePeriod } from '@app/billing';
import { ExportsService, GrantAllocationsExport, ReconciliationService, type ExportKind } from '@app/db';
import { AdminOnly } from '../auth/auth.decorators.js';
import { TimeRangeQuery, parseRange } from '../common/pagination.js';
import { sendCsv } from '../common/csv-response.js';
import { badRequest } from '../common/problem.js';
import { ApiProblem } from '../docs/problems.js';
import { GRANT_ALLOCATIONS_CSV, INVOICES_CSV, LEDGER_CSV, PeriodQuery, ReconciliationResponse, USAGE_CSV } from './finance.dto.js';

const badRange = ApiProblem(400, 'from or to is not an ISO-8601 instant, or from is after to', { detail: 'from must not be after to.', errors: [{ field: 'from', message: 'after to' }] });

@ApiTags('finance')
@Controller('v1')
export class FinanceController {
  constructor(
    private readonly exports: ExportsService,
    private readonly reconciliation: ReconciliationService,
    private readonly allocations: GrantAllocationsExport,
  ) {}

  @Get('exports/usage.csv')
  @AdminOnly()
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'one row per priced event, occurred_at in [from, to)', schema: { type: 'string', example: USAGE_CSV } })
  @badRange
  usage(@Query() query: TimeRangeQuery, @Res() response: FastifyReply) {
    return this.stream(response, 'usage', parseRange(query), 'usage');
  }

  @Get('exports/ledger.csv')
  @AdminOnly()
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'one row per ledger entry, created_at in [from, to)', schema: { type: 'string', example: LEDGER_CSV } })
  @badRange
  ledger(@Query() query: TimeRangeQuery, @Res() response: FastifyReply) {
    return this.stream(response, 'ledger', parseRange(query), 'ledger');
  }

  @Get('exports/invoices.csv')
  @AdminOnly()
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'one row per invoice line of the month', schema: { type: 'string', example: INVOICES_CSV } })
  @ApiProblem(400, 'period is missing or not a month written YYYY-MM', { detail: 'period must be a month written YYYY-MM.', errors: [{ field: 'period', message: 'not YYYY-MM' }] })
  invoices(@Query() query: PeriodQuery, @Res() response: FastifyReply) {
    if (!parsePeriod(query.period)) throw badRequest('period must be a month written YYYY-MM.', [{ field: 'period', message: 'not YYYY-MM' }]);
    return this.stream(response, 'invoices', { period: query.period }, `invoices-${query.period}`);
  }

  @Get('exports/grant-allocations.csv')
  @AdminOnly()
  @ApiProduces('text/csv')
  @ApiOkResponse({
    description: 'for each usage or negative adjustment entry written in [from, to), one row per grant it drew from (no grant: unfunded); for each credit that covered earlier unfunded usage, what it covered',
    schema: { type: 'string', example: GRANT_ALLOCATIONS_CSV },
  })
  @badRange
  async grantAllocations(@Query() query: TimeRangeQuery, @Res() response: FastifyReply) {
    sendCsv(response, await this.allocations.csv(parseRange(query)), 'grant-allocations');
  }

  @Get('reconciliation')
  @AdminOnly()
  @ApiOkResponse({ type: ReconciliationResponse })
  @badRange
  reconcile(@Query() query: TimeRangeQuery) {
    return this.reconciliation.run(parseRange(query));
  }

  private async stream(response: FastifyReply, kind: ExportKind, filter: { from?: Date; to?: Date; period?: string }, name: string) {
    sendCsv(response, await this.exports.csv(kind, filter), name);
  }
}
