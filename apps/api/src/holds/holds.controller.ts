import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBody, ApiCreatedResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { AccountReadable, AdminOnly, Authenticated, CurrentPrincipal, type Principal } from '../auth/auth.decorators.js';
import { ApiProblem } from '../docs/problems.js';
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
  @ApiProblem(402, 'the hold does not fit in what is available; nothing is held. The problem carries available and requested (decimal strings)', {
    detail: 'The account has 0.25 available; the hold asks for 0.3. Nothing was held.',
  })
  @ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' })
  @ApiProblem(409, 'this hold_id was used with another body', { slug: 'hold-id-reused', detail: 'Hold req_01HXYZ already exists with another body; nothing was held.' })
  @ApiProblem(422, 'both or neither of amount and estimate; an amount that is not a decimal > 0 of at most 18 places; an unknown model or tokens beyond its limits; ttl_seconds outside 1-3600; a hold_id over 128 characters', {
    errors: [{ field: 'amount', message: 'give exactly one of amount and estimate' }],
  })
  // The body is read by parseHoldRequest (libs/billing) alone: typed unknown, the validation pipe
  // passes it through untouched (CreateHoldDto documents it), which saves a class-transformer and
  // class-validator pass on the gateway's request path.
  async authorize(@Param('id') id: string, @Body() body: unknown, @Res({ passthrough: true }) response: FastifyReply) {
    const { created, hold } = await this.holds.authorize(id, body);
    if (!created) response.status(HttpStatus.OK);
    return hold;
  }

  @Get('accounts/:id/holds')
  @AccountReadable()
  @ApiOkResponse({ type: HoldPage, description: 'newest first' })
  @ApiProblem(400, 'limit, cursor or status is not valid', { errors: [{ field: 'status', message: 'status must be one of the following values: active, settled, released, expired' }] })
  @ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' })
  list(@Param('id') id: string, @Query() query: HoldsQuery) {
    return this.holds.list(id, query);
  }

  @Get('holds/:hold_id')
  @Authenticated()
  @ApiOkResponse({ type: HoldResponse })
  @ApiProblem(404, 'no such hold (an account key gets 403 instead: it may not learn which ids exist)', { detail: 'No hold req_01HXYZ.' })
  get(@CurrentPrincipal() principal: Principal, @Param('hold_id') holdId: string) {
    return this.holds.get(principal, holdId);
  }

  @Post('holds/:hold_id/release')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: HoldResponse, description: 'released; a settled or expired hold is answered as it is' })
  @ApiProblem(404, 'no such hold', { detail: 'No hold req_01HXYZ.' })
  release(@Param('hold_id') holdId: string) {
    return this.holds.release(holdId);
  }
}
