import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AdminOnly } from '../auth/auth.decorators.js';
import { sendCsv } from '../common/csv-response.js';
import { ApiProblem } from '../docs/problems.js';
import { PeriodQuery } from '../finance/finance.dto.js';
import { LIABILITY_CSV, LiabilityQuery, LiabilityReportResponse } from './reports.dto.js';
import { ReportsService } from './reports.service.js';

@ApiTags('reports')
@Controller('v1')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Get('reports/credit-liability')
  @AdminOnly()
  @ApiOkResponse({ type: LiabilityReportResponse, description: 'opening + granted − burned − expired − voided = closing, exactly, on every row and in the totals' })
  @ApiProblem(400, 'period is missing, or limit or cursor is not valid', { errors: [{ field: 'period', message: 'period must be a string' }] })
  @ApiProblem(422, 'period is not a month written YYYY-MM, or the month has not started yet', { detail: 'period must be a month written YYYY-MM, such as 2026-11.', errors: [{ field: 'period', message: 'not YYYY-MM' }] })
  creditLiability(@Query() query: LiabilityQuery) {
    return this.reports.creditLiability(query);
  }

  @Get('exports/credit-liability.csv')
  @AdminOnly()
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: 'one row per account: the same figures as the report', schema: { type: 'string', example: LIABILITY_CSV } })
  @ApiProblem(400, 'period is missing', { errors: [{ field: 'period', message: 'period must be a string' }] })
  @ApiProblem(422, 'period is not a month written YYYY-MM, or the month has not started yet', { detail: 'period must be a month written YYYY-MM, such as 2026-11.', errors: [{ field: 'period', message: 'not YYYY-MM' }] })
  async creditLiabilityCsv(@Query() query: PeriodQuery, @Res() response: FastifyReply) {
    sendCsv(response, await this.reports.creditLiabilityCsv(query.period), `credit-liability-${query.period}`);
  }
}
