import { Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AccountReadable, AdminOnly } from '../auth/auth.decorators.js';
import { ApiProblem } from '../docs/problems.js';
import { GrantPage, GrantResponse, GrantsQuery } from './grants.dto.js';
import { GrantsApiService } from './grants.service.js';

@ApiTags('grants')
@Controller('v1/accounts/:id/grants')
export class GrantsController {
  constructor(private readonly grants: GrantsApiService) {}

  @Get()
  @AccountReadable()
  @ApiOkResponse({ type: GrantPage, description: 'newest first' })
  @ApiProblem(400, 'limit, cursor or status is not valid', { errors: [{ field: 'status', message: 'status must be one of the following values: active, used, expired, voided' }] })
  @ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' })
  list(@Param('id') id: string, @Query() query: GrantsQuery) {
    return this.grants.list(id, query);
  }

  @Post(':grant_id/void')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: GrantResponse, description: 'voided: what was left is removed by one ledger entry of kind void; again, or on an ended grant, it changes nothing' })
  @ApiProblem(404, 'the account has no such grant (another account\'s grant is not found either)', { detail: 'Account acme-corp has no grant gr_1042.' })
  void(@Param('id') id: string, @Param('grant_id') grantId: string) {
    return this.grants.void(id, grantId);
  }
}
