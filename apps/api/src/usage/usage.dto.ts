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
  @ApiProperty({ example: 3, description: 'position in the request\'s events' }) index: number;
  @ApiProperty({ nullable: true, type: String, example: 'req_01HZX7', description: 'null when the event had no usable event_id' }) event_id: string | null;
  @ApiProperty({ enum: REJECTION_REASONS, example: 'inconsistent_usage' }) reason: string;
  @ApiProperty({ example: 'usage.total_tokens (1500) is not usage.prompt_tokens + usage.completion_tokens (1200 + 350).' }) detail: string;
}

export class IngestResponse {
  @ApiProperty({ example: 999 }) accepted: number;
  @ApiProperty({ type: [IngestRejection] }) rejected: IngestRejection[];
}

export class TokensResponse {
  @ApiProperty({ example: 176, description: 'uncached input tokens (billed at the input rate)' }) input: number;
  @ApiProperty({ example: 1024 }) cached_input: number;
  @ApiProperty({ example: 350, description: 'reasoning tokens included' }) output: number;
}

export class UsageEventResponse {
  @ApiProperty({ example: 'req_01HZX3' }) event_id: string;
  @ApiProperty({ enum: ['priced', 'rejected'], example: 'priced' }) status: 'priced' | 'rejected';
  @ApiProperty({ nullable: true, type: String, example: 'acme-corp' }) account_id: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'qwen3-5-4b', description: 'priced: the canonical id; rejected: as sent' }) model: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: '/v1/chat/completions', description: 'priced events only' }) endpoint?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: '2026-11-24T10:00:00.000Z', description: 'priced events only' }) occurred_at?: string | null;
  @ApiProperty({ nullable: true, type: TokensResponse, description: 'null for a rejected event' }) tokens: TokensResponse | null;
  @ApiPropertyOptional({ nullable: true, type: Boolean, example: true, description: 'false when the engine did not report cache reads' }) cache_reported?: boolean | null;
  @ApiProperty({ nullable: true, type: String, example: '0.00005202', description: 'exact, never rounded; null for a rejected event' }) cost: string | null;
  @ApiProperty({ nullable: true, type: Number, example: 1 }) rate_card_version: number | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: '1043', description: 'the usage ledger entry that debited it (one entry per flush and account)' }) ledger_entry_id?: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'req_01HZX3', description: 'the spend hold the event named (settled by it when still active)' }) hold_id?: string | null;
  @ApiPropertyOptional({ enum: REJECTION_REASONS, example: 'unknown_model', description: 'rejected events only' }) reason?: string;
  @ApiPropertyOptional({ example: 'model "gpt-4o" is not in the catalog.', description: 'rejected events only' }) detail?: string;
  @ApiProperty({ example: '2026-11-24T10:00:00.412Z' }) received_at: string;
}

export class RejectedEventsQuery extends TimeRangePageQuery {
  @ApiPropertyOptional({ enum: REJECTION_REASONS })
  @IsOptional()
  @IsIn(REJECTION_REASONS)
  reason?: string;
}

export class RejectedEventResponse {
  @ApiProperty({ example: '88' }) rejection_id: string;
  @ApiProperty({ nullable: true, type: String, example: 'req_01HZX9', description: 'null when the payload had none' }) event_id: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'acme-corp' }) account_id: string | null;
  @ApiProperty({ enum: REJECTION_REASONS, example: 'unknown_model' }) reason: string;
  @ApiProperty({ example: 'model "gpt-4o" is not in the catalog.' }) detail: string;
  @ApiProperty({ description: 'the event as received', example: { ...EXAMPLE_EVENT, event_id: 'req_01HZX9', model: 'gpt-4o' } }) payload: unknown;
  @ApiProperty({ enum: ['queue', 'http'], example: 'queue' }) source: string;
  @ApiProperty({ example: '2026-11-24T10:00:00.412Z' }) received_at: string;
}

export class RejectedEventsPage {
  @ApiProperty({ type: [RejectedEventResponse] }) data: RejectedEventResponse[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'pass as cursor for the next page; null on the last' }) next_cursor: string | null;
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
  @ApiProperty({ example: 1_210_000, description: 'uncached input tokens' }) input_tokens: number;
  @ApiProperty({ example: 95_000 }) cached_input_tokens: number;
  @ApiProperty({ example: 180_000 }) output_tokens: number;
  @ApiProperty({ example: '0.0629' }) cost: string;
}

export class UsageSeriesResponse {
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ enum: GRANULARITIES, example: 'day' }) granularity: string;
  @ApiProperty({ example: '2026-11-01T00:00:00.000Z' }) from: string;
  @ApiProperty({ example: '2026-12-01T00:00:00.000Z' }) to: string;
  @ApiProperty({ type: [UsagePointResponse] }) data: UsagePointResponse[];
}
