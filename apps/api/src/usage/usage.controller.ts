import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AccountReadable, AdminOnly } from '../auth/auth.decorators.js';
import { IngestResponse, IngestUsageDto, RejectedEventsPage, RejectedEventsQuery, UsageEventResponse, UsageSeriesQuery, UsageSeriesResponse } from './usage.dto.js';
import { UsageService } from './usage.service.js';

@ApiTags('usage')
@Controller('v1')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Post('usage-events')
  @AdminOnly()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiAcceptedResponse({ type: IngestResponse })
  @ApiBody({ type: IngestUsageDto })
  // The raw body, untouched by the validation pipe: events are billing data, kept exactly as sent
  // (a deep copy would drop keys such as "__proto__" and make a later redelivery look like a conflict).
  ingest(@Body() body: unknown) {
    return this.usage.ingest(body);
  }

  @Get('usage-events/:event_id')
  @AdminOnly()
  @ApiOkResponse({ type: UsageEventResponse })
  event(@Param('event_id') eventId: string) {
    return this.usage.event(eventId);
  }

  @Get('rejected-events')
  @AdminOnly()
  @ApiOkResponse({ type: RejectedEventsPage })
  rejected(@Query() query: RejectedEventsQuery) {
    return this.usage.rejectedEvents(query);
  }

  @Get('accounts/:id/usage')
  @AccountReadable()
  @ApiOkResponse({ type: UsageSeriesResponse })
  series(@Param('id') id: string, @Query() query: UsageSeriesQuery) {
    return this.usage.series(id, query);
  }
}
