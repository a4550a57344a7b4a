import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { AccountReadable, AdminOnly, Authenticated, CurrentPrincipal, type Principal } from '../auth/auth.decorators.js';
import { CreateHoldDto, HoldPage, HoldResponse, HoldsQuery } from './holds.dto.js';
import { HoldsApiService } from './holds.service.js';

@ApiTags('holds')
@Controller('v1')
export class HoldsController {
  constructor(private readonly holds: HoldsApiService) {}

  @Post('accounts/:id/holds')
  @AdminOnly()
  @HttpCode(HttpStatus.CREATED)
  @ApiBody({ type: CreateHoldDto })
  @ApiCreatedResponse({ type: HoldResponse, description: 'held: available is what is left after it' })
  @ApiOkResponse({ type: HoldResponse, description: 'the same hold_id and body again: the same hold, as it is now' })
  async authorize(@Param('id') id: string, @Body() body: CreateHoldDto, @Res({ passthrough: true }) response: Response) {
    const { created, hold } = await this.holds.authorize(id, body);
    if (!created) response.status(HttpStatus.OK);
    return hold;
  }

  @Get('accounts/:id/holds')
  @AccountReadable()
  @ApiOkResponse({ type: HoldPage, description: 'newest first' })
  list(@Param('id') id: string, @Query() query: HoldsQuery) {
    return this.holds.list(id, query);
  }

  @Get('holds/:hold_id')
  @Authenticated()
  @ApiOkResponse({ type: HoldResponse })
  get(@CurrentPrincipal() principal: Principal, @Param('hold_id') holdId: string) {
    return this.holds.get(principal, holdId);
  }

  @Post('holds/:hold_id/release')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: HoldResponse, description: 'released; a settled or expired hold is answered as it is' })
  release(@Param('hold_id') holdId: string) {
    return this.holds.release(holdId);
  }
}
