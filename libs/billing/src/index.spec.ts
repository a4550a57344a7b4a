import { describe, it, expect } from '@jest/globals';
import * as billing from './index.js';

describe('libs/billing public API', () => {
  it.each([
    'Money',
    'formatMoney',
    'parseDecimal',
    'roundHalfUpToCents',
    'LEDGER_SCALE',
    'PRICE_SCALE',
    'resolveModel',
    'LAUNCH_CATALOG',
    'LAUNCH_PRICES',
    'rateCardAt',
    'priceFor',
    'ENDPOINTS',
    'normalizeUsage',
    'validateUsageEvent',
    'REJECTION_REASONS',
    'canonicalJson',
    'parseTimestamp',
    'priceTokens',
    'lineAmount',
    'BillingException',
    'BillingExceptionCode',
  ])('re-exports %s', (name) => {
    expect((billing as Record<string, unknown>)[name]).toBeDefined();
  });
});
