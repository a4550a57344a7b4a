import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { PageQuery } from '../common/pagination.js';

export class LiabilityQuery extends PageQuery {
  @ApiProperty({ example: '2026-11', description: 'the UTC month, YYYY-MM' })
  @IsString()
  period: string;
}

/** The figures of an account, or the totals: decimal strings, exact. */
export class LiabilityFiguresResponse {
  @ApiProperty({ example: '120.5', description: 'Σ remaining of the grants when the month began (the previous month\'s closing)' }) opening: string;
  @ApiProperty({ example: '100', description: 'purchase credits granted in the month' }) granted_paid: string;
  @ApiProperty({ example: '5', description: 'promotional, refund and positive adjustment credits granted in the month' }) granted_free: string;
  @ApiProperty({ example: '80.25', description: 'drawn from paid grants: recognised revenue' }) burned_paid: string;
  @ApiProperty({ example: '4', description: 'drawn from free grants' }) burned_free: string;
  @ApiProperty({ example: '0', description: 'of burned_paid, what negative adjustments drew (not usage)' }) adjusted_paid: string;
  @ApiProperty({ example: '0', description: 'of burned_free, what negative adjustments drew (not usage)' }) adjusted_free: string;
  @ApiProperty({ example: '0', description: 'left on paid grants when they expired' }) expired_paid: string;
  @ApiProperty({ example: '1', description: 'left on free grants when they expired' }) expired_free: string;
  @ApiProperty({ example: '0', description: 'left on grants when they were voided' }) voided: string;
  @ApiProperty({ example: '140.25', description: 'Σ remaining at the end of the month (or now, for the current month)' }) closing: string;
  @ApiProperty({ example: '0', description: 'usage beyond every grant at the end of the month' }) unfunded: string;
}

export class LiabilityRowResponse extends LiabilityFiguresResponse {
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
}

export const LIABILITY_CSV =
  'period,account_id,opening,granted_paid,granted_free,burned_paid,burned_free,adjusted_paid,adjusted_free,expired_paid,expired_free,voided,closing,unfunded\r\n' +
  '2026-11,acme-corp,120.5,100,5,80.25,4,0,0,0,1,0,140.25,0\r\n';

export class LiabilityReportResponse {
  @ApiProperty({ example: '2026-11' }) period: string;
  @ApiProperty({ example: true, description: 'a closed month, stored the first time it was reported and never recomputed' }) frozen: boolean;
  @ApiProperty({ nullable: true, type: String, example: '2026-12-01T00:10:00.000Z' }) frozen_at: string | null;
  @ApiProperty({ example: '2026-12-01T00:10:00.000Z', description: 'the ledger as of this instant' }) as_of: string;
  @ApiProperty({ type: LiabilityFiguresResponse }) totals: LiabilityFiguresResponse;
  @ApiProperty({ type: [LiabilityRowResponse] }) data: LiabilityRowResponse[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'pass as cursor for the next page; null on the last' }) next_cursor: string | null;
}
