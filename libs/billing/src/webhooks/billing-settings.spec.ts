import { describe, expect, it } from '@jest/globals';
import { parseBillingSettings } from './billing-settings.js';

describe('parseBillingSettings', () => {
  it('reads thresholds as exact decimals; a field left out is not changed, null turns it off', () => {
    const result = parseBillingSettings({ low_balance_threshold: '5.00', auto_recharge: { threshold: '2.5', target_balance: '25.000000000000000001' } });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.change.lowBalanceThreshold!.toFixed()).toBe('5');
    expect(result.change.autoRecharge!.targetBalance.toFixed()).toBe('25.000000000000000001');
    expect(parseBillingSettings({})).toEqual({ ok: true, change: {} });
    expect(parseBillingSettings({ low_balance_threshold: null, auto_recharge: null })).toEqual({ ok: true, change: { lowBalanceThreshold: null, autoRecharge: null } });
  });

  it.each([
    [{ low_balance_threshold: 5 }, 'low_balance_threshold', /must be a decimal number written as a string/],
    [{ low_balance_threshold: 'five' }, 'low_balance_threshold', /must be a plain decimal string/],
    [{ low_balance_threshold: '-1' }, 'low_balance_threshold', /must not be negative/],
    [{ auto_recharge: { threshold: '-0.01', target_balance: '10' } }, 'auto_recharge.threshold', /must not be negative/],
    [{ auto_recharge: { threshold: '10', target_balance: '10' } }, 'auto_recharge.target_balance', /must be above auto_recharge.threshold/],
    [{ auto_recharge: { threshold: '10', target_balance: '9.99' } }, 'auto_recharge.target_balance', /must be above auto_recharge.threshold/],
    [{ auto_recharge: { threshold: '10' } }, 'auto_recharge.target_balance', /must be a decimal number/],
    [{ auto_recharge: 'on' }, 'auto_recharge', /must be an object/],
  ])('refuses %j (422 naming %s)', (body, field, message) => {
    const result = parseBillingSettings(body);
    expect(result).toMatchObject({ ok: false, status: 422 });
    if (result.ok) return;
    expect(result.errors).toEqual([{ field, message: expect.stringMatching(message) }]);
  });

  it('refuses a body that is not an object with a 400', () => expect(parseBillingSettings([1])).toMatchObject({ ok: false, status: 400 }));
});
