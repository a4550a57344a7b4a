import { Body, Controller, Param, Post, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { AdminOnly } from '../auth/auth.decorators.js';
import { ApiProblem } from '../docs/problems.js';
import { CreatePortalSessionDto, PortalSessionResponse } from './portal-sessions.dto.js';
import { PortalSessionsService } from './portal-sessions.service.js';

/** The origin the request came in on (behind a proxy on loopback, the one it forwarded). */
const originOf = (request: FastifyRequest) => `${request.protocol}://${request.headers.host}`;

@ApiTags('portal')
@Controller('v1/accounts')
export class PortalSessionsController {
  constructor(private readonly sessions: PortalSessionsService) {}

  @Post(':id/portal-sessions')
  @AdminOnly()
  @ApiCreatedResponse({ type: PortalSessionResponse, description: 'a link that opens the customer portal for this account, read-only, until expires_at' })
  @ApiProblem(400, 'ttl_seconds is not a whole number', { errors: [{ field: 'ttl_seconds', message: 'ttl_seconds must be a whole number of seconds' }] })
  @ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' })
  @ApiProblem(422, 'ttl_seconds is outside 60-86400', { errors: [{ field: 'ttl_seconds', message: 'must be from 60 to 86400 seconds' }] })
  create(@Param('id') id: string, @Body() dto: CreatePortalSessionDto, @Req() request: FastifyRequest) {
    return this.sessions.create(id, dto, originOf(request));
  }
}
