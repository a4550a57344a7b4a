import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CREDIT_KINDS, GRANT_STATUSES, type GrantStatus } from '@app/billing';
import { IsIn, IsOptional } from 'class-validator';
import { PageQuery } from '../common/pagination.js';

export class GrantsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: GRANT_STATUSES, description: 'only grants in this status' })
  @IsOptional()
  @IsIn(GRANT_STATUSES)
  status?: GrantStatus;
}

export class GrantResponse {
  @ApiProperty({ example: 'gr_1042' }) grant_id: string;
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ enum: CREDIT_KINDS, example: 'promotional' }) credit_kind: string;
  @ApiProperty({ example: false, description: 'purchase grants are paid for; every other kind is free' }) paid: boolean;
  @ApiProperty({ example: '25' }) amount: string;
  @ApiProperty({ example: '18.40000007', description: 'what is left: the fold of every committed debit, in burn order' }) remaining: string;
  @ApiProperty({ example: 50, description: 'lower is drawn first' }) priority: number;
  @ApiProperty({ nullable: true, type: String, example: '2027-12-01T00:00:00.000Z' }) expires_at: string | null;
  @ApiProperty({ enum: GRANT_STATUSES, example: 'active' }) status: GrantStatus;
  @ApiProperty({ example: '2026-12-01T10:00:00.000Z' }) created_at: string;
  @ApiProperty({ example: '1042', description: 'the credit ledger entry that made this grant' }) entry_id: string;
  @ApiProperty({ nullable: true, type: String, example: null, description: 'when it expired or was voided' }) ended_at: string | null;
}

export class GrantPage {
  @ApiProperty({ type: [GrantResponse] }) data: GrantResponse[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'pass as cursor for the next page; null on the last' }) next_cursor: string | null;
}
