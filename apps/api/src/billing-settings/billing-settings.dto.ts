import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Allow } from 'class-validator';

export class AutoRechargeSettings {
  @ApiProperty({ example: '5.00', description: 'when a usage debit leaves the balance below this, a recharge is requested' }) threshold: string;
  @ApiProperty({ example: '50.00', description: 'the balance the recharge brings the account back to; above threshold' }) target_balance: string;
}

/** Checked by the service (422 with field errors): whitelisted here only. */
export class PutBillingSettingsDto {
  @ApiPropertyOptional({ example: '10.00', nullable: true, type: String, description: 'balance.low when the balance falls below it (decimal string >= 0); null: no alert; left out: unchanged' })
  @Allow()
  low_balance_threshold?: unknown;

  @ApiPropertyOptional({ type: AutoRechargeSettings, nullable: true, description: 'null: no auto-recharge; left out: unchanged' })
  @Allow()
  auto_recharge?: unknown;
}

export class OpenRecharge {
  @ApiProperty({ example: 'rch_1042', description: 'credit the account with this Idempotency-Key' }) idempotency_key: string;
  @ApiProperty({ example: '2026-12-01T10:00:00.000Z' }) requested_at: string;
  @ApiProperty({ example: '2026-12-02T10:00:00.000Z', description: 'no other request is made before this unless this one is credited' }) expires_at: string;
}

export class BillingSettingsResponse {
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ nullable: true, type: String, example: '10' }) low_balance_threshold: string | null;
  @ApiProperty({ nullable: true, type: AutoRechargeSettings }) auto_recharge: AutoRechargeSettings | null;
  @ApiProperty({ nullable: true, type: OpenRecharge, description: 'the recharge requested and not credited yet, for the last 24 hours' }) open_recharge: OpenRecharge | null;
  @ApiProperty({ nullable: true, type: String, example: '2026-12-01T09:00:00.000Z' }) updated_at: string | null;
}
