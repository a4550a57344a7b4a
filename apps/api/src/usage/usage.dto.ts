import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsISO8601, IsOptional } from 'class-validator';
import { REJECTION_REASONS } from '@app/billing';
import { TimeRangePageQuery } from '../common/pagination.js';

const EXAMPLE_EVENT = {
  event_id: 'req_01HZX3',
  account_id: 'acme',
  model: 'qwen3-5-4b',
  endpoint: '/v1/chat/completions',
  occurred_at: '2026-11-24T10:00:00Z',
  usage: { prompt_tokens: 1200, completion_tokens: 350, prompt_tokens_details: { cached_tokens: 1024 } },
};

/**
 * The request body, for /docs only: the route takes the raw body (see UsageController.ingest) and
 * UsageService checks its shape; each event is validated by the billing rules and rejected alone.
 */
export class IngestUsageDto {
  @ApiProperty({ type: 'array', items: { type: 'object' }, minItems: 1, maxItems: 1000, example: [EXAMPLE_EVENT] })
  events: unknown[];
}

export class IngestRejection {
  @ApiProperty({ example: 3 }) index: number;
  @ApiProperty({ nullable: true, type: String }) event_id: string | null;
  @ApiProperty({ enum: REJECTION_REASONS }) reason: string;
  @ApiProperty() detail: string;
}

export class IngestResponse {
  @ApiProperty({ example: 999 }) accepted: number;
  @ApiProperty({ type: [IngestRejection] }) rejected: IngestRejection[];
}

export class TokensResponse {
  @ApiProperty({ description: 'uncached input tokens (billed at the input rate)' }) input: number;
  @ApiProperty() cached_input: number;
  @ApiProperty() output: number;
}

export class UsageEventResponse {
  @ApiProperty() event_id: string;
  @ApiProperty({ enum: ['priced', 'rejected'] }) status: 'priced' | 'rejected';
  @ApiProperty({ nullable: true, type: String }) account_id: string | null;
  @ApiProperty({ nullable: true, type: String }) model: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) endpoint?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) occurred_at?: string | null;
  @ApiProperty({ nullable: true, type: TokensResponse }) tokens: TokensResponse | null;
  @ApiPropertyOptional({ nullable: true, type: Boolean, description: 'false when the engine did not report cache reads' }) cache_reported?: boolean | null;
  @ApiProperty({ nullable: true, type: String, example: '0.0000487' }) cost: string | null;
  @ApiProperty({ nullable: true, type: Number }) rate_card_version: number | null;
  @ApiPropertyOptional({ nullable: true, type: String }) ledger_entry_id?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, description: 'the spend hold the event named (settled by it when still active)' }) hold_id?: string | null;
  @ApiPropertyOptional({ enum: REJECTION_REASONS }) reason?: string;
  @ApiPropertyOptional() detail?: string;
  @ApiProperty() received_at: string;
}

export class RejectedEventsQuery extends TimeRangePageQuery {
  @ApiPropertyOptional({ enum: REJECTION_REASONS })
  @IsOptional()
  @IsIn(REJECTION_REASONS)
  reason?: string;
}

export class RejectedEventResponse {
  @ApiProperty() rejection_id: string;
  @ApiProperty({ nullable: true, type: String }) event_id: string | null;
  @ApiProperty({ nullable: true, type: String }) account_id: string | null;
  @ApiProperty({ enum: REJECTION_REASONS }) reason: string;
  @ApiProperty() detail: string;
  @ApiProperty({ description: 'the event as received' }) payload: unknown;
  @ApiProperty({ enum: ['queue', 'http'] }) source: string;
  @ApiProperty() received_at: string;
}

export class RejectedEventsPage {
  @ApiProperty({ type: [RejectedEventResponse] }) data: RejectedEventResponse[];
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}

export const GRANULARITIES = ['hour', 'day', 'month'] as const;

export class UsageSeriesQuery {
  @ApiPropertyOptional({ example: '2026-11-01T00:00:00Z', description: 'inclusive, on a whole UTC hour; default: start of the current UTC month' })
  @IsOptional()
  @IsISO8601({ strict: true })
  from?: string;

  @ApiPropertyOptional({ example: '2026-12-01T00:00:00Z', description: 'exclusive, on a whole UTC hour; default: start of the next UTC month' })
  @IsOptional()
  @IsISO8601({ strict: true })
  to?: string;

  @ApiPropertyOptional({ enum: GRANULARITIES, default: 'day' })
  @IsOptional()
  @IsIn(GRANULARITIES)
  granularity: (typeof GRANULARITIES)[number] = 'day';
}

export class UsagePointResponse {
  @ApiProperty({ example: '2026-11-24T00:00:00.000Z' }) period_start: string;
  @ApiProperty({ example: 'qwen3-5-4b' }) model: string;
  @ApiProperty({ example: 1250 }) requests: number;
  @ApiProperty({ description: 'uncached input tokens' }) input_tokens: number;
  @ApiProperty() cached_input_tokens: number;
  @ApiProperty() output_tokens: number;
  @ApiProperty({ example: '0.0609375' }) cost: string;
}

export class UsageSeriesResponse {
  @ApiProperty() account_id: string;
  @ApiProperty({ enum: GRANULARITIES }) granularity: string;
  @ApiProperty() from: string;
  @ApiProperty() to: string;
  @ApiProperty({ type: [UsagePointResponse] }) data: UsagePointResponse[];
}
