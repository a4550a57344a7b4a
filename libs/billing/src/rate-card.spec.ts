import { describe, it, expect } from '@jest/globals';
import { LAUNCH_PRICES } from './catalog.js';
import { Money } from './money.js';
import { priceFor, rateCardAt, type RateCardVersion } from './rate-card.js';

const card = (version: number, effectiveFrom: string): RateCardVersion => ({
  version,
  effectiveFrom: new Date(effectiveFrom),
  prices: {
    m: { inputPerMillion: new Money(version), outputPerMillion: new Money(version), cachedInputPerMillion: new Money(0) },
  },
});

const v1 = card(1, '2026-01-01T00:00:00Z');
const v2 = card(2, '2026-06-01T00:00:00Z');
const v3 = card(3, '2026-12-01T00:00:00Z');

describe('rateCardAt', () => {
  it('returns undefined before the first version', () => {
    expect(rateCardAt([v1, v2], new Date('2025-12-31T23:59:59.999Z'))).toBeUndefined();
  });

  it('returns undefined when there are no versions', () => {
    expect(rateCardAt([], new Date('2026-06-01T00:00:00Z'))).toBeUndefined();
  });

  it('gives the first instant of a version to that new version', () => {
    expect(rateCardAt([v1, v2], new Date('2026-06-01T00:00:00.000Z'))?.version).toBe(2);
  });

  it('gives the millisecond before a version to the previous version', () => {
    expect(rateCardAt([v1, v2], new Date('2026-05-31T23:59:59.999Z'))?.version).toBe(1);
  });

  it('gives the exact effectiveFrom of the first version to it', () => {
    expect(rateCardAt([v1], new Date('2026-01-01T00:00:00Z'))?.version).toBe(1);
  });

  it('selects correctly from unsorted versions', () => {
    const versions = [v3, v1, v2];
    expect(rateCardAt(versions, new Date('2026-03-01T00:00:00Z'))?.version).toBe(1);
    expect(rateCardAt(versions, new Date('2026-07-01T00:00:00Z'))?.version).toBe(2);
    expect(rateCardAt(versions, new Date('2030-01-01T00:00:00Z'))?.version).toBe(3);
  });

  it('prefers the higher version number when two share an effectiveFrom', () => {
    const v2b = card(4, '2026-06-01T00:00:00Z');
    expect(rateCardAt([v2b, v1, v2], new Date('2026-07-01T00:00:00Z'))?.version).toBe(4);
  });

  it('returns undefined for an invalid instant', () => {
    expect(rateCardAt([v1], new Date('nonsense'))).toBeUndefined();
  });
});

describe('priceFor', () => {
  it('returns the price of a model the card prices', () => {
    expect(priceFor(LAUNCH_PRICES, 'qwen3-5-4b')).toBe(LAUNCH_PRICES.prices['qwen3-5-4b']);
  });

  it('returns undefined for a model the card does not price, including Object.prototype names', () => {
    expect(priceFor(LAUNCH_PRICES, 'other')).toBeUndefined();
    expect(priceFor(LAUNCH_PRICES, 'constructor')).toBeUndefined();
    expect(priceFor(LAUNCH_PRICES, '__proto__')).toBeUndefined();
  });
});
