import { isPlainObject, ownField } from '../json.js';
import { LEDGER_SCALE, Money, parseDecimal } from '../money.js';

/** A threshold or target larger than this is refused as a typo (a trillion dollars), as credits are. */
const MAX_INTEGER_DIGITS = 12;

export interface AutoRecharge {
  threshold: Money;
  targetBalance: Money;
}

/** What a PUT changes: a field left out stays as it is; null turns it off. */
export interface BillingSettingsChange {
  lowBalanceThreshold?: Money | null;
  autoRecharge?: AutoRecharge | null;
}

export type BillingSettingsResult = { ok: true; change: BillingSettingsChange } | { ok: false; status: 400 | 422; errors: { field: string; message: string }[] };

const amount = (value: unknown, field: string, errors: { field: string; message: string }[]): Money | undefined => {
  const parsed = parseDecimal(value, { field, maxScale: LEDGER_SCALE, maxIntegerDigits: MAX_INTEGER_DIGITS, allowNegative: false, allowZero: true });
  if (parsed.ok) return parsed.value;
  errors.push({ field, message: parsed.message });
  return undefined;
};

/**
 * Reads `{ low_balance_threshold?: decimal | null, auto_recharge?: { threshold, target_balance } | null }`:
 * amounts are decimal strings of at least 0 (at most 18 decimals and 12 integer digits), and a
 * recharge's target_balance is above its threshold.
 */
export function parseBillingSettings(body: unknown): BillingSettingsResult {
  if (!isPlainObject(body)) return { ok: false, status: 400, errors: [{ field: 'body', message: 'must be a JSON object' }] };
  const errors: { field: string; message: string }[] = [];
  const change: BillingSettingsChange = {};
  const low = ownField(body, 'low_balance_threshold');
  if (low === null) change.lowBalanceThreshold = null;
  else if (low !== undefined) change.lowBalanceThreshold = amount(low, 'low_balance_threshold', errors);

  const recharge = ownField(body, 'auto_recharge');
  if (recharge === null) change.autoRecharge = null;
  else if (recharge !== undefined) {
    if (!isPlainObject(recharge)) errors.push({ field: 'auto_recharge', message: 'must be an object { "threshold", "target_balance" } or null' });
    else {
      const threshold = amount(ownField(recharge, 'threshold'), 'auto_recharge.threshold', errors);
      const targetBalance = amount(ownField(recharge, 'target_balance'), 'auto_recharge.target_balance', errors);
      if (threshold && targetBalance) {
        if (targetBalance.lte(threshold)) errors.push({ field: 'auto_recharge.target_balance', message: 'must be above auto_recharge.threshold' });
        else change.autoRecharge = { threshold, targetBalance };
      }
    }
  }
  return errors.length ? { ok: false, status: 422, errors } : { ok: true, change };
}
