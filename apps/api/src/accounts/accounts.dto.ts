import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { CREDIT_KINDS, type CreditKind } from '@app/billing';
import { Allow, IsIn, IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export class CreateAccountDto {
  @ApiPropertyOptional({ example: 'acme-corp', description: 'Chosen id; generated (acct_...) when absent', pattern: ACCOUNT_ID_PATTERN.source })
  @IsOptional()
  @IsString()
  @Matches(ACCOUNT_ID_PATTERN, { message: 'account_id must be 1-64 characters of A-Z a-z 0-9 _ . : - starting with a letter or digit' })
  account_id?: string;

  @ApiProperty({ example: 'Acme Corp' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name: string;
}


export class CreateCreditDto {
  @ApiProperty({ example: '25.00', description: 'Decimal string in USD, at most 18 decimals; only an adjustment may be negative' })
  @IsString({ message: 'amount must be a decimal string such as "25.00"' })
  amount: string;

  @ApiProperty({ enum: CREDIT_KINDS, example: 'purchase' })
  @IsIn(CREDIT_KINDS)
  kind: CreditKind;

  @ApiPropertyOptional({ example: 'stripe:pi_3N2', description: 'Free text shown on the ledger, e.g. a payment id' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  reference?: string;

  // Checked by the service (422 with a field error), so only whitelisted here.
  @ApiPropertyOptional({ example: '2027-12-01T00:00:00Z', description: 'A positive credit is a grant: what is left of it expires then (in the future, at most 10 years ahead). Never, when absent.' })
  @Allow()
  expires_at?: unknown;

  @ApiPropertyOptional({ example: 50, minimum: 0, maximum: 100, default: 50, description: 'Burn order: grants with a lower priority are drawn first' })
  @Allow()
  priority?: unknown;
}

export class AccountResponse {
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ example: 'Acme Corp' }) name: string;
  @ApiProperty({ example: 'USD' }) currency: string;
  @ApiProperty({ example: '24.99999993' }) balance: string;
  @ApiProperty({ enum: ['active', 'depleted'], example: 'active' }) status: 'active' | 'depleted';
  @ApiProperty({ example: '2026-11-01T08:12:44.120Z' }) created_at: string;
}

export class NextExpiry {
  @ApiProperty({ example: '2027-01-01T00:00:00.000Z' }) at: string;
  @ApiProperty({ example: '4.5' }) amount: string;
}

export class BalanceResponse {
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ example: '24.99999993' }) balance: string;
  @ApiProperty({ example: 'USD' }) currency: string;
  @ApiProperty({ enum: ['active', 'depleted'], example: 'active', description: 'depleted while the balance is zero or below' }) status: 'active' | 'depleted';
  @ApiProperty({ nullable: true, type: String, example: '2026-11-24T10:00:00.000Z', description: 'when the last priced usage happened; null before any' }) last_usage_at: string | null;
  @ApiProperty({ example: '2026-11-24T10:00:01.250Z' }) as_of: string;
  @ApiProperty({ type: NextExpiry, nullable: true, description: 'the earliest expiry among active grants and what expires then' })
  next_expiry: NextExpiry | null;
  @ApiProperty({ example: '0.0128', description: 'Σ of the active spend holds' }) held: string;
  @ApiProperty({ example: '24.98719993', description: 'balance − held: what a new hold can take' }) available: string;
}

export class ApiKeyResponse {
  @ApiProperty({ example: 'key_3f2a9c0d1e4b5a6f' }) key_id: string;
  @ApiProperty({ example: 'bk_3f2a9c0d1e4b5a6f_Qm9vYmFyLWV4YW1wbGUtc2VjcmV0LW5vdC1yZWFsLTAwMQ', description: 'Shown once; only its hash is stored' }) secret: string;
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ example: '2026-11-01T08:15:00.000Z' }) created_at: string;
}

export class ApiKeySummary {
  @ApiProperty({ example: 'key_3f2a9c0d1e4b5a6f' }) key_id: string;
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ example: '2026-11-01T08:15:00.000Z' }) created_at: string;
  @ApiProperty({ nullable: true, type: String, example: null, description: 'null while the key works' }) revoked_at: string | null;
}

export class ApiKeyPage {
  @ApiProperty({ type: [ApiKeySummary] }) data: ApiKeySummary[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'always null: an account has few keys' }) next_cursor: string | null;
}

export class LedgerEntryResponse {
  @ApiProperty({ example: '1042' }) entry_id: string;
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ enum: ['credit', 'usage', 'adjustment', 'expiry', 'void'], example: 'usage' }) kind: 'credit' | 'usage' | 'adjustment' | 'expiry' | 'void';
  @ApiPropertyOptional({ enum: CREDIT_KINDS, nullable: true, type: String, example: null, description: 'credits and adjustments: the kind given; expiries and voids: their grant\'s; null for usage' }) credit_kind: string | null;
  @ApiProperty({ example: '-0.00000007', description: 'Signed: credits positive, usage negative' }) amount: string;
  @ApiProperty({ example: '24.99999993' }) balance_after: string;
  @ApiProperty({ example: '2026-11-24T10:00:00.412Z' }) created_at: string;
  @ApiProperty({ nullable: true, type: String, example: null, description: 'credits: the reference given; expiries and voids: the grant id' }) reference: string | null;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 1, description: 'usage entries: events debited' }) event_count: number | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'gr_1042', description: 'the grant a positive credit created, or the grant an expiry or void removed from' })
  grant_id: string | null;
}

export class LedgerPage {
  @ApiProperty({ type: [LedgerEntryResponse] }) data: LedgerEntryResponse[];
  @ApiProperty({ nullable: true, type: String, example: 'eyJwIjoiMTA0MiJ9', description: 'pass as cursor for the next page; null on the last' }) next_cursor: string | null;
}
