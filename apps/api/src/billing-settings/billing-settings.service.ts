import { Injectable } from '@nestjs/common';
import { Money, RECHARGE_WINDOW_MS, formatMoney, parseBillingSettings, rechargeKeyOf } from '@app/billing';
import { type BillingSettingsRow, BillingSettingsRepository } from '@app/db';
import { badRequest, notFound, unprocessable } from '../common/problem.js';
import type { BillingSettingsResponse } from './billing-settings.dto.js';

@Injectable()
export class BillingSettingsService {
  constructor(private readonly settings: BillingSettingsRepository) {}

  async get(accountId: string): Promise<BillingSettingsResponse> {
    const row = await this.settings.find(accountId);
    if (!row) throw notFound(`No account ${accountId}.`);
    return toSettings(row);
  }

  async put(accountId: string, body: object): Promise<BillingSettingsResponse> {
    const parsed = parseBillingSettings({ ...body });
    if (!parsed.ok) {
      const detail = `The billing settings are not valid: ${parsed.errors.map((e) => `${e.field} ${e.message}`).join('; ')}`;
      throw parsed.status === 400 ? badRequest(detail, parsed.errors) : unprocessable(detail, parsed.errors);
    }
    const row = await this.settings.update(accountId, parsed.change);
    if (!row) throw notFound(`No account ${accountId}.`);
    return toSettings(row);
  }
}

const money = (value: string | null) => (value === null ? null : formatMoney(new Money(value)));

function toSettings(row: BillingSettingsRow): BillingSettingsResponse {
  const open = row.recharge_entry_id !== null && row.recharge_requested_at !== null && row.recharge_requested_at.getTime() + RECHARGE_WINDOW_MS > Date.now();
  return {
    account_id: row.account_id,
    low_balance_threshold: money(row.low_balance_threshold),
    auto_recharge: row.recharge_threshold === null ? null : { threshold: money(row.recharge_threshold)!, target_balance: money(row.recharge_target)! },
    open_recharge: open
      ? {
          idempotency_key: rechargeKeyOf(row.recharge_entry_id!),
          requested_at: row.recharge_requested_at!.toISOString(),
          expires_at: new Date(row.recharge_requested_at!.getTime() + RECHARGE_WINDOW_MS).toISOString(),
        }
      : null,
    updated_at: row.settings_updated_at?.toISOString() ?? null,
  };
}
