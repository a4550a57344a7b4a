import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AccountReadable } from '../auth/auth.decorators.js';
import { sendCsv } from '../common/csv-response.js';
import { TimeRangeQuery } from '../common/pagination.js';
import { ApiProblem } from '../docs/problems.js';
import { USAGE_CSV } from '../finance/finance.dto.js';
import { AccountExportsService } from './account-exports.service.js';

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountExportsController {
  constructor(private readonly exports: AccountExportsService) {}

  @Get(':id/exports/usage.csv')
  @AccountReadable()
  @ApiProduces('text/csv')
  @ApiOkResponse({ description: "the account's own usage: one row per priced event, occurred_at in [from, to), the columns of /v1/exports/usage.csv", schema: { type: 'string', example: USAGE_CSV } })
  @ApiProblem(400, 'from or to is not an ISO-8601 instant, or from is after to', { detail: 'from must not be after to.', errors: [{ field: 'from', message: 'after to' }] })
  @ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' })
  async usage(@Param('id') id: string, @Query() query: TimeRangeQuery, @Res() response: FastifyReply) {
    sendCsv(response, await this.exports.usageCsv(id, query), `usage-${id}`);
  }
}
