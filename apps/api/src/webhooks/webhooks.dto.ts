import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { WEBHOOK_EVENT_TYPES } from '@app/billing';
import { Allow, IsIn, IsOptional } from 'class-validator';
import { PageQuery } from '../common/pagination.js';

/** Checked by the service (422 with field errors): whitelisted here only. */
export class CreateEndpointDto {
  @ApiProperty({ example: 'https://hooks.example.com/billing', description: 'https, at a public address (http and private addresses only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS)' })
  @Allow()
  url: unknown;

  @ApiPropertyOptional({ enum: WEBHOOK_EVENT_TYPES, isArray: true, example: ['balance.low', 'balance.depleted', 'recharge.requested'], description: 'the types sent to it; every type when left out' })
  @Allow()
  events?: unknown;

  @ApiPropertyOptional({ example: 'payment service: auto-recharge', description: 'at most 500 characters' })
  @Allow()
  description?: unknown;
}

export class RotateSecretDto {
  @ApiPropertyOptional({
    example: 86400,
    minimum: 0,
    maximum: 86400,
    default: 86400,
    description: 'how long the replaced secret keeps signing beside the new one (each delivery then carries both signatures); 0 stops it at once, for a secret that leaked',
  })
  @Allow()
  previous_secret_valid_for_seconds?: unknown;
}

export class EndpointResponse {
  @ApiProperty({ example: 'we_3f2a9c0d1e4b5a6f' }) endpoint_id: string;
  @ApiProperty({ example: 'https://hooks.example.com/billing' }) url: string;
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, isArray: true, example: ['balance.low', 'balance.depleted', 'recharge.requested'] }) events: string[];
  @ApiProperty({ nullable: true, type: String, example: 'payment service: auto-recharge' }) description: string | null;
  @ApiProperty({ example: '2026-12-01T10:00:00.000Z' }) created_at: string;
  @ApiProperty({ nullable: true, type: String, example: null, description: 'when the secret was last rotated' }) secret_rotated_at: string | null;
  @ApiProperty({ nullable: true, type: String, example: null, description: 'until then deliveries are signed with the replaced secret too' }) previous_secret_expires_at: string | null;
}

export class EndpointWithSecretResponse extends EndpointResponse {
  @ApiProperty({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw7tLUOj2nFXs=', description: 'the signing secret (Standard Webhooks): shown now and never again' }) secret: string;
}

export class EndpointPage {
  @ApiProperty({ type: [EndpointResponse] }) data: EndpointResponse[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'pass as cursor for the next page; null on the last' }) next_cursor: string | null;
}

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export class DeliveriesQuery extends PageQuery {
  @ApiPropertyOptional({ enum: DELIVERY_STATUSES, description: 'only deliveries in this state' })
  @IsOptional()
  @IsIn(DELIVERY_STATUSES)
  status?: (typeof DELIVERY_STATUSES)[number];
}

export class AttemptResponse {
  @ApiProperty({ example: '2026-12-01T10:00:00.120Z' }) attempted_at: string;
  @ApiProperty({ example: 42, description: 'from connecting to the end of the answer' }) duration_ms: number;
  @ApiProperty({ nullable: true, type: Number, example: 500, description: 'the answer\'s status; null when there was none' }) status_code: number | null;
  @ApiProperty({ nullable: true, type: String, example: 'answered 500', description: 'why it did not acknowledge; null for a 2xx' }) error: string | null;
}

export class DeliveryResponse {
  @ApiProperty({ example: 'dlv_1042' }) delivery_id: string;
  @ApiProperty({ example: 'we_3f2a9c0d1e4b5a6f' }) endpoint_id: string;
  @ApiProperty({ example: 'evt_6b1f0c2d9e8a4b7c8d9e0f1a2b3c4d5e', description: 'the webhook-id header: the same on every try' }) event_id: string;
  @ApiProperty({ enum: WEBHOOK_EVENT_TYPES, example: 'balance.low' }) type: string;
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ enum: DELIVERY_STATUSES, example: 'pending', description: 'delivered: acknowledged with a 2xx; failed: given up after 24 hours of retries' }) status: string;
  @ApiProperty({ nullable: true, type: String, example: '2026-12-01T10:00:05.000Z', description: 'pending: when the next try is due' }) next_attempt_at: string | null;
  @ApiProperty({ example: '2026-12-01T10:00:00.100Z' }) created_at: string;
  @ApiProperty({ nullable: true, type: String, example: null }) delivered_at: string | null;
  @ApiProperty({ type: [AttemptResponse], description: 'every try, oldest first' }) attempts: AttemptResponse[];
}

export class DeliveryPage {
  @ApiProperty({ type: [DeliveryResponse], description: 'newest first' }) data: DeliveryResponse[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'pass as cursor for the next page; null on the last' }) next_cursor: string | null;
}
