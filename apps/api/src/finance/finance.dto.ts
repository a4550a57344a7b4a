import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';

export class PeriodQuery {
  @ApiProperty({ example: '2026-11' })
  @IsString()
  period: string;
}

export class CheckResponse {
  @ApiProperty({ example: 'balances_match_ledger' }) name: string;
  @ApiProperty() description: string;
  @ApiProperty() ok: boolean;
  @ApiProperty({ example: '1234.5' }) expected: string;
  @ApiProperty({ example: '1234.5' }) actual: string;
}

export class DiscrepancyResponse {
  @ApiProperty({ example: 'balances_match_ledger' }) check: string;
  @ApiProperty({ enum: ['account', 'ledger_entry', 'event', 'rollup', 'invoice'] }) subject: string;
  @ApiProperty({ example: 'acme' }) id: string;
  @ApiProperty() expected: string;
  @ApiProperty() actual: string;
}

export class ReconciliationResponse {
  @ApiProperty() ok: boolean;
  @ApiProperty({ nullable: true, type: String }) from: string | null;
  @ApiProperty({ nullable: true, type: String }) to: string | null;
  @ApiProperty({ type: [CheckResponse] }) checks: CheckResponse[];
  @ApiProperty({ type: [DiscrepancyResponse] }) discrepancies: DiscrepancyResponse[];
  @ApiProperty({ description: 'more discrepancies exist than are listed (1000 at most)' }) truncated: boolean;
}
