import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { Decimal } from 'decimal.js';
import { LAUNCH_PRICES } from './catalog.js';
import { Money, formatMoney } from './money.js';
import { lineAmount, priceTokens } from './pricing.js';
import type { ModelPrice } from './rate-card.js';
import type { BillableTokens } from './usage.js';

const launch = LAUNCH_PRICES.prices['qwen3-5-4b'];
const cost = (tokens: BillableTokens, price: ModelPrice = launch): string => formatMoney(priceTokens(tokens, price));

describe('priceTokens at the launch prices', () => {
  it('costs exactly "0.00000007" for one output token', () => {
    expect(cost({ input: 0, cachedInput: 0, output: 1 })).toBe('0.00000007');
  });

  it('costs exactly "0.00000004" for one uncached input token', () => {
    expect(cost({ input: 1, cachedInput: 0, output: 0 })).toBe('0.00000004');
  });

  it('costs exactly "0.00000002" for one cached input token', () => {
    expect(cost({ input: 0, cachedInput: 1, output: 0 })).toBe('0.00000002');
  });

  it('costs exactly "0" for no tokens', () => {
    expect(cost({ input: 0, cachedInput: 0, output: 0 })).toBe('0');
  });

  it('costs exactly "0.01277952" for a full 262144-token context (no cache) and 32768 output tokens', () => {
    // 262144 × 0.04 / 1e6 = 0.01048576 ; 32768 × 0.07 / 1e6 = 0.00229376
    expect(cost({ input: 262144, cachedInput: 0, output: 32768 })).toBe('0.01277952');
  });

  it('bills cached tokens at the cached rate only when reported', () => {
    // the same 1000 prompt tokens, 600 of them cache reads when the engine reports them
    expect(cost({ input: 400, cachedInput: 600, output: 0 })).toBe('0.000028');
    expect(cost({ input: 1000, cachedInput: 0, output: 0 })).toBe('0.00004');
  });

  it('prices each class at its own rate', () => {
    expect(cost({ input: 3, cachedInput: 5, output: 7 })).toBe('0.00000071'); // 0.12 + 0.10 + 0.49 millionths
  });

  it('does not round a per-token cost at the 12-decimal price limit', () => {
    const price: ModelPrice = {
      inputPerMillion: new Money('0.000000000001'),
      outputPerMillion: new Money('999999999999.999999999999'),
      cachedInputPerMillion: new Money(0),
    };
    expect(cost({ input: 1, cachedInput: 0, output: 0 }, price)).toBe('0.000000000000000001');
    expect(cost({ input: 0, cachedInput: 0, output: 1 }, price)).toBe('999999.999999999999999999');
  });

  it('stays exact at the largest safe token counts', () => {
    const n = Number.MAX_SAFE_INTEGER; // 9007199254740991
    expect(cost({ input: n, cachedInput: n, output: n })).toBe('1170935903.11632883');
  });

  it('computes with Money precision even when prices were built with the default Decimal', () => {
    const price: ModelPrice = {
      inputPerMillion: new Decimal('123456789012.123456789012'),
      outputPerMillion: new Decimal(0),
      cachedInputPerMillion: new Decimal(0),
    };
    expect(cost({ input: Number.MAX_SAFE_INTEGER, cachedInput: 0, output: 0 }, price)).toBe(
      '1111999897982714166492.772494166594790892',
    );
  });
});

describe('lineAmount', () => {
  it('accepts a bigint token sum beyond 2^53', () => {
    expect(formatMoney(lineAmount(2n ** 60n, new Money('0.07')))).toBe('80704505322.47928832');
  });

  it('accepts an integer string token sum', () => {
    expect(formatMoney(lineAmount('1152921504606846976', new Money('0.07')))).toBe('80704505322.47928832');
  });

  it('accepts a safe-integer number', () => {
    expect(formatMoney(lineAmount(262144, new Money('0.04')))).toBe('0.01048576');
  });

  it.each([-1, 1.5, NaN, 2 ** 53, -1n, '-1', '1.5', '1e3', '', ' 1'])('refuses the token count %p', (tokens) => {
    expect(() => lineAmount(tokens, new Money('0.07'))).toThrow(RangeError);
  });
});

// Independent oracle: prices as integers of 1e-12 dollars per million, so
// cost × 10^18 = Σ tokens × priceInt exactly, in BigInt.
const priceInt = fc.bigInt({ min: 0n, max: 10n ** 24n - 1n }); // numeric(24,12)
const tokenCount = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const toMoney = (units: bigint): Money => new Money(`${units}e-12`);
const fromUnits18 = (units: bigint): string => {
  const digits = units.toString().padStart(19, '0');
  const int = digits.slice(0, -18).replace(/^0+(?=\d)/, '');
  const frac = digits.slice(-18).replace(/0+$/, '');
  return frac ? `${int}.${frac}` : int;
};

describe('priceTokens (properties)', () => {
  it('equals the hand formula exactly, checked against a BigInt oracle', () => {
    fc.assert(
      fc.property(tokenCount, tokenCount, tokenCount, priceInt, priceInt, priceInt, (i, c, o, pi, pc, po) => {
        const price = { inputPerMillion: toMoney(pi), cachedInputPerMillion: toMoney(pc), outputPerMillion: toMoney(po) };
        const oracle = BigInt(i) * pi + BigInt(c) * pc + BigInt(o) * po;
        expect(cost({ input: i, cachedInput: c, output: o }, price)).toBe(fromUnits18(oracle));
      }),
    );
  });

  it('is never negative', () => {
    fc.assert(
      fc.property(tokenCount, tokenCount, tokenCount, priceInt, priceInt, priceInt, (i, c, o, pi, pc, po) => {
        const price = { inputPerMillion: toMoney(pi), cachedInputPerMillion: toMoney(pc), outputPerMillion: toMoney(po) };
        expect(priceTokens({ input: i, cachedInput: c, output: o }, price).isNegative()).toBe(false);
      }),
    );
  });

  it('is additive over events: the price of summed tokens equals the sum of prices', () => {
    const half = fc.integer({ min: 0, max: 2 ** 52 - 1 });
    const tokens = fc.record({ input: half, cachedInput: half, output: half });
    fc.assert(
      fc.property(tokens, tokens, priceInt, priceInt, priceInt, (a, b, pi, pc, po) => {
        const price = { inputPerMillion: toMoney(pi), cachedInputPerMillion: toMoney(pc), outputPerMillion: toMoney(po) };
        const sum = { input: a.input + b.input, cachedInput: a.cachedInput + b.cachedInput, output: a.output + b.output };
        expect(formatMoney(priceTokens(sum, price))).toBe(formatMoney(priceTokens(a, price).plus(priceTokens(b, price))));
      }),
    );
  });

  it('lineAmount over a bigint sum equals the sum of per-event amounts', () => {
    fc.assert(
      fc.property(fc.array(tokenCount, { maxLength: 50 }), priceInt, (counts, p) => {
        const perEvent = counts.reduce((acc, n) => acc.plus(lineAmount(n, toMoney(p))), new Money(0));
        const total = counts.reduce((acc, n) => acc + BigInt(n), 0n);
        expect(formatMoney(lineAmount(total, toMoney(p)))).toBe(formatMoney(perEvent));
      }),
    );
  });
});
