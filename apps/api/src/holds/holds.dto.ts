import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { HOLD_STATUSES, type HoldStatus } from '@app/billing';
import { IsIn, IsOptional } from 'class-validator';
import { PageQuery } from '../common/pagination.js';

export class HoldEstimate {
  @ApiProperty({ example: 'qwen3-5-4b' }) model: string;
  @ApiProperty({ example: 12000 }) input_tokens: number;
  @ApiProperty({ example: 32768, description: 'the request\'s max_tokens: all of it is held at the output rate' }) max_output_tokens: number;
}

/** The authorization body as documented; parseHoldRequest (libs/billing) reads and checks it (422 with field errors). */
export class CreateHoldDto {
  @ApiPropertyOptional({ example: 'req_01HXYZ', description: 'your id for the hold (1-128 characters), usually the request id; the same id and body again answers the same hold' })
  hold_id?: unknown;

  @ApiPropertyOptional({ example: '0.0025', description: 'exactly one of amount and estimate: a decimal string > 0' })
  amount?: unknown;

  @ApiPropertyOptional({ type: HoldEstimate, description: 'exactly one of amount and estimate: priced now, input at the input rate and max output at the output rate, no cache assumed' })
  estimate?: unknown;

  @ApiPropertyOptional({ example: 300, minimum: 1, maximum: 3600, default: 300 })
  ttl_seconds?: unknown;
}

export class HoldsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: HOLD_STATUSES })
  @IsOptional()
  @IsIn(HOLD_STATUSES)
  status?: HoldStatus;
}

export class HoldResponse {
  @ApiProperty({ example: 'req_01HXYZ' }) hold_id: string;
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ example: '0.00277376' }) amount: string;
  @ApiProperty({ enum: HOLD_STATUSES, example: 'active' }) status: HoldStatus;
  @ApiProperty({ example: '2026-12-01T10:00:00.000Z' }) created_at: string;
  @ApiProperty({ example: '2026-12-01T10:05:00.000Z', description: 'the hold counts until this instant, and not a moment later' }) expires_at: string;
  @ApiPropertyOptional({ example: '24.99722624', description: 'authorization answers: what is available after this hold' }) available?: string;
  @ApiProperty({ nullable: true, type: String, example: '0.00051289', description: 'settled: the cost of the event that settled it' }) settled_amount: string | null;
  @ApiProperty({ nullable: true, type: String, example: 'req_01HXYZ', description: 'settled: the event that settled it' }) settled_event_id: string | null;
  @ApiProperty({ nullable: true, type: String, example: '2026-12-01T10:00:02.500Z', description: 'when it was settled or released' }) ended_at: string | null;
}

export class HoldPage {
  @ApiProperty({ type: [HoldResponse] }) data: HoldResponse[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'pass as cursor for the next page; null on the last' }) next_cursor: string | null;
}
