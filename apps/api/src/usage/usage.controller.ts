import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AccountReadable, AdminOnly } from '../auth/auth.decorators.js';
import { ApiProblem } from '../docs/problems.js';
import { IngestResponse, IngestUsageDto, RejectedEventsPage, RejectedEventsQuery, UsageEventResponse, UsageSeriesQuery, UsageSeriesResponse } from './usage.dto.js';
import { UsageService } from './usage.service.js';

@ApiTags('usage')
@Controller('v1')
export class UsageController {
  constructor(private readonly usage: UsageService) {}

  @Post('usage-events')
  @AdminOnly()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiAcceptedResponse({ type: IngestResponse, description: 'the valid events are queued; each invalid one is listed, recorded, and never billed' })
  @ApiBody({ type: IngestUsageDto })
  @ApiProblem(400, 'the body is not { "events": [...] } with 1 to 1000 events', {
    detail: 'The body is { "events": [...] } with 1 to 1000 usage events.',
    errors: [{ field: 'events', message: 'must be an array of 1 to 1000 events' }],
  })
  @ApiProblem(503, 'the queue (Redis) is unavailable: nothing was queued; send the same events again after Retry-After', {
    slug: 'queue-unavailable',
    detail: 'The usage queue is unavailable; retry the request.',
  })
  // The raw body, untouched by the validation pipe: events are billing data, kept exactly as sent
  // (a deep copy would drop keys such as "__proto__" and make a later redelivery look like a conflict).
  ingest(@Body() body: unknown) {
    return this.usage.ingest(body);
  }

  @Get('usage-events/:event_id')
  @AdminOnly()
  @ApiOkResponse({ type: UsageEventResponse, description: 'priced, or rejected with its reason' })
  @ApiProblem(404, 'no event with this id was received (yet: queued events appear once a worker has taken them)', { detail: 'No usage event req_01HZX3 was received.' })
  event(@Param('event_id') eventId: string) {
    return this.usage.event(eventId);
  }

  @Get('rejected-events')
  @AdminOnly()
  @ApiOkResponse({ type: RejectedEventsPage })
  @ApiProblem(400, 'limit, cursor, from, to or reason is not valid', { errors: [{ field: 'reason', message: 'reason must be one of the following values: invalid_payload, ...' }] })
  rejected(@Query() query: RejectedEventsQuery) {
    return this.usage.rejectedEvents(query);
  }

  @Get('accounts/:id/usage')
  @AccountReadable()
  @ApiOkResponse({ type: UsageSeriesResponse })
  @ApiProblem(400, 'from or to is not on a whole UTC hour, from is not before to, the range has too many buckets for the granularity, or granularity is not hour, day or month', {
    detail: 'from must fall on a whole UTC hour: usage is kept per hour.',
    errors: [{ field: 'from', message: 'not on a whole hour' }],
  })
  @ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' })
  series(@Param('id') id: string, @Query() query: UsageSeriesQuery) {
    return this.usage.series(id, query);
  }
}
