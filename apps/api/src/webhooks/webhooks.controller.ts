import { Body, Controller, Delete, Get, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AdminOnly } from '../auth/auth.decorators.js';
import { PageQuery } from '../common/pagination.js';
import { ApiProblem } from '../docs/problems.js';
import { CreateEndpointDto, DeliveriesQuery, DeliveryPage, DeliveryResponse, EndpointPage, EndpointResponse, EndpointWithSecretResponse, RotateSecretDto } from './webhooks.dto.js';
import { WebhooksService } from './webhooks.service.js';

const noEndpoint = ApiProblem(404, 'no such endpoint', { detail: 'No webhook endpoint we_3f2a9c0d1e4b5a6f.' });

@ApiTags('webhooks')
@Controller('v1/webhook-endpoints')
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post()
  @AdminOnly()
  @ApiBody({ type: CreateEndpointDto })
  @ApiCreatedResponse({ type: EndpointWithSecretResponse, description: 'registered; the secret is shown this once' })
  @ApiProblem(400, 'the body is not a JSON object', { errors: [{ field: 'body', message: 'must be a JSON object' }] })
  @ApiProblem(422, 'the url is not a URL, not https where https is required, or resolves to a private address (or not at all); an unknown event type; a description over 500 characters', {
    detail: 'The endpoint is not valid: url 10.0.0.5 is a private, loopback or link-local address (allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS).',
    errors: [{ field: 'url', message: '10.0.0.5 is a private, loopback or link-local address (allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS)' }],
  })
  create(@Body() body: CreateEndpointDto) {
    return this.webhooks.create(body);
  }

  @Get()
  @AdminOnly()
  @ApiOkResponse({ type: EndpointPage, description: 'oldest first, without secrets' })
  @ApiProblem(400, 'limit or cursor is not valid', { errors: [{ field: 'cursor', message: 'invalid cursor' }] })
  list(@Query() query: PageQuery) {
    return this.webhooks.list(query);
  }

  @Get(':endpoint_id')
  @AdminOnly()
  @ApiOkResponse({ type: EndpointResponse })
  @noEndpoint
  get(@Param('endpoint_id') endpointId: string) {
    return this.webhooks.get(endpointId);
  }

  @Delete(':endpoint_id')
  @AdminOnly()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'deleted, with its deliveries: nothing more is sent to it' })
  @noEndpoint
  delete(@Param('endpoint_id') endpointId: string) {
    return this.webhooks.delete(endpointId);
  }

  @Post(':endpoint_id/rotate-secret')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiBody({ type: RotateSecretDto, required: false })
  @ApiOkResponse({ type: EndpointWithSecretResponse, description: 'the new secret, shown this once; the replaced one signs beside it until previous_secret_expires_at' })
  @noEndpoint
  @ApiProblem(422, 'previous_secret_valid_for_seconds is not a whole number from 0 to 86400', {
    errors: [{ field: 'previous_secret_valid_for_seconds', message: 'must be a whole number of seconds from 0 to 86400' }],
  })
  rotate(@Param('endpoint_id') endpointId: string, @Body() body: RotateSecretDto) {
    return this.webhooks.rotate(endpointId, body);
  }

  @Get(':endpoint_id/deliveries')
  @AdminOnly()
  @ApiOkResponse({ type: DeliveryPage })
  @ApiProblem(400, 'limit, cursor or status is not valid', { errors: [{ field: 'status', message: 'status must be one of the following values: pending, delivered, failed' }] })
  @noEndpoint
  deliveries(@Param('endpoint_id') endpointId: string, @Query() query: DeliveriesQuery) {
    return this.webhooks.deliveries(endpointId, query);
  }

  @Post(':endpoint_id/deliveries/:delivery_id/retry')
  @AdminOnly()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiAcceptedResponse({ type: DeliveryResponse, description: 'pending again, due now, on a fresh retry schedule (a delivered one is sent again: the receiver sees its webhook-id twice)' })
  @ApiProblem(404, 'no such endpoint, or it has no such delivery', { detail: 'Endpoint we_3f2a9c0d1e4b5a6f has no delivery dlv_1042.' })
  retry(@Param('endpoint_id') endpointId: string, @Param('delivery_id') deliveryId: string) {
    return this.webhooks.retry(endpointId, deliveryId);
  }
}
