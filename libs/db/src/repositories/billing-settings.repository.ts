import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import type { BillingSettingsChange } from '@app/billing';

export interface BillingSettingsRow {
  account_id: string;
  low_balance_threshold: string | null;
  recharge_threshold: string | null;
  recharge_target: string | null;
  recharge_entry_id: string | null;
  recharge_requested_at: Date | null;
  settings_updated_at: Date | null;
}

const COLUMNS = `account_id, low_balance_threshold::text, recharge_threshold::text, recharge_target::text, recharge_entry_id::text, recharge_requested_at, settings_updated_at`;

/**
 * An account's alert thresholds and auto-recharge, kept on its balance row (where the usage flush
 * reads them without another lookup), with the recharge request that is open.
 */
@Injectable()
export class BillingSettingsRepository {
  constructor(private readonly db: DataSource) {}

  async find(accountId: string): Promise<BillingSettingsRow | null> {
    const rows: BillingSettingsRow[] = await this.db.query(`SELECT ${COLUMNS} FROM account_balances WHERE account_id = $1`, [accountId]);
    return rows[0] ?? null;
  }

  /** Applies the change (fields it leaves out stay as they are); null for an unknown account. (UPDATE inside WITH: TypeORM answers a bare UPDATE with [rows, count].) */
  async update(accountId: string, change: BillingSettingsChange): Promise<BillingSettingsRow | null> {
    const low = change.lowBalanceThreshold;
    const recharge = change.autoRecharge;
    const rows: BillingSettingsRow[] = await this.db.query(
      `WITH updated AS (UPDATE account_balances SET
         low_balance_threshold = CASE WHEN $2 THEN $3::numeric ELSE low_balance_threshold END,
         recharge_threshold = CASE WHEN $4 THEN $5::numeric ELSE recharge_threshold END,
         recharge_target = CASE WHEN $4 THEN $6::numeric ELSE recharge_target END,
         settings_updated_at = now()
       WHERE account_id = $1 RETURNING ${COLUMNS})
       SELECT * FROM updated`,
      [accountId, low !== undefined, low?.toFixed() ?? null, recharge !== undefined, recharge?.threshold.toFixed() ?? null, recharge?.targetBalance.toFixed() ?? null],
    );
    return rows[0] ?? null;
  }
}
