import { Body, Controller, Param, Post, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { AdminOnly } from '../auth/auth.decorators.js';
import { CreatePortalSessionDto, PortalSessionResponse } from './portal-sessions.dto.js';
import { PortalSessionsService } from './portal-sessions.service.js';

/** The origin the request came in on (behind a proxy on loopback, the one it forwarded). */
const originOf = (request: Request) => `${request.protocol}://${request.get('host')}`;

@ApiTags('portal')
@Controller('v1/accounts')
export class PortalSessionsController {
  constructor(private readonly sessions: PortalSessionsService) {}

  @Post(':id/portal-sessions')
  @AdminOnly()
  @ApiCreatedResponse({ type: PortalSessionResponse, description: 'a link that opens the customer portal for this account, read-only, until expires_at' })
  create(@Param('id') id: string, @Body() dto: CreatePortalSessionDto, @Req() request: Request) {
    return this.sessions.create(id, dto, originOf(request));
  }
}
