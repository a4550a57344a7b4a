import { Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AccountReadable, AdminOnly } from '../auth/auth.decorators.js';
import { GrantPage, GrantResponse, GrantsQuery } from './grants.dto.js';
import { GrantsApiService } from './grants.service.js';

@ApiTags('grants')
@Controller('v1/accounts/:id/grants')
export class GrantsController {
  constructor(private readonly grants: GrantsApiService) {}

  @Get()
  @AccountReadable()
  @ApiOkResponse({ type: GrantPage, description: 'newest first' })
  list(@Param('id') id: string, @Query() query: GrantsQuery) {
    return this.grants.list(id, query);
  }

  @Post(':grant_id/void')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: GrantResponse, description: 'voided: what was left is removed by one ledger entry of kind void; again, or on an ended grant, it changes nothing' })
  void(@Param('id') id: string, @Param('grant_id') grantId: string) {
    return this.grants.void(id, grantId);
  }
}
