import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { Decimal } from 'decimal.js';
import {
  LEDGER_SCALE,
  Money,
  PRICE_SCALE,
  formatMoney,
  parseDecimal,
  roundHalfUpToCents,
  type ParseDecimalResult,
} from './money.js';

const value = (r: ParseDecimalResult): string => {
  if (!r.ok) throw new Error(`expected ok, got: ${r.message}`);
  return formatMoney(r.value);
};
const message = (r: ParseDecimalResult): string => {
  if (r.ok) throw new Error(`expected a refusal, got ${formatMoney(r.value)}`);
  return r.message;
};

/** A canonical plain decimal (no leading/trailing zeros) with up to `scale` decimals. */
const canonicalDecimal = (scale: number, maxIntDigits: number) =>
  fc
    .record({
      negative: fc.boolean(),
      int: fc.bigInt({ min: 0n, max: 10n ** BigInt(maxIntDigits) - 1n }),
      fraction: fc.bigInt({ min: 0n, max: 10n ** BigInt(scale) - 1n }),
    })
    .map(({ negative, int, fraction }) => {
      const frac = fraction.toString().padStart(scale, '0').replace(/0+$/, '');
      const body = frac ? `${int}.${frac}` : `${int}`;
      return negative && body !== '0' ? `-${body}` : body;
    });

describe('Money', () => {
  it('keeps 80 significant digits and rounds half up', () => {
    expect(Money.precision).toBe(80);
    expect(Money.rounding).toBe(Decimal.ROUND_HALF_UP);
  });

  it('multiplies a numeric(38,18) balance without losing a digit', () => {
    const big = new Money('12345678901234567890.123456789012345678');
    expect(formatMoney(big.times(3))).toBe('37037036703703703670.370370367037037034');
  });

  it('does the arithmetic that the default 20-digit Decimal would round', () => {
    const a = new Money('123456789012345678.123456789012345678');
    expect(formatMoney(a.plus('0.000000000000000001'))).toBe('123456789012345678.123456789012345679');
  });

  it('declares the ledger and price scales', () => {
    expect(LEDGER_SCALE).toBe(18);
    expect(PRICE_SCALE).toBe(12);
  });
});

describe('formatMoney', () => {
  it('prints 7e-8 as "0.00000007"', () => {
    expect(formatMoney(new Money('7e-8'))).toBe('0.00000007');
  });

  it('prints 25 as "25"', () => {
    expect(formatMoney(new Money(25))).toBe('25');
  });

  it('drops trailing zeros: "24.999999930000000000" -> "24.99999993"', () => {
    expect(formatMoney(new Money('24.999999930000000000'))).toBe('24.99999993');
  });

  it('keeps every digit of a big balance', () => {
    expect(formatMoney(new Money('123456789012345678.123456789012345678'))).toBe(
      '123456789012345678.123456789012345678',
    );
  });

  it('never uses exponent notation for huge or tiny values', () => {
    expect(formatMoney(new Money('1e30'))).toBe('1000000000000000000000000000000');
    expect(formatMoney(new Money('1e-18'))).toBe('0.000000000000000001');
  });

  it('prints negative amounts with a leading minus', () => {
    expect(formatMoney(new Money('-0.00000007'))).toBe('-0.00000007');
  });

  it('prints negative zero as "0"', () => {
    expect(formatMoney(new Money('-0'))).toBe('0');
  });

  it('refuses NaN and infinities', () => {
    expect(() => formatMoney(new Money(NaN))).toThrow(RangeError);
    expect(() => formatMoney(new Money(Infinity))).toThrow(RangeError);
  });
});

describe('parseDecimal', () => {
  const opts = { maxScale: 18 };

  it('accepts a plain decimal string and returns its exact value', () => {
    expect(value(parseDecimal('25.00', opts))).toBe('25');
    expect(value(parseDecimal('0.000000000000000001', opts))).toBe('0.000000000000000001');
  });

  it('returns a value built by the Money clone', () => {
    const r = parseDecimal('1.5', opts);
    expect(r.ok && r.value.constructor).toBe(Money);
  });

  it('round-trips a big balance exactly', () => {
    expect(value(parseDecimal('123456789012345678.123456789012345678', opts))).toBe(
      '123456789012345678.123456789012345678',
    );
  });

  it('refuses a JSON number (it has already lost precision)', () => {
    expect(message(parseDecimal(25, opts))).toMatch(/string/);
  });

  it.each([null, undefined, true, {}, ['1']])('refuses the non-string %p', (input) => {
    expect(parseDecimal(input, opts).ok).toBe(false);
  });

  it.each(['1e5', '1E-3', ' 1', '1 ', '+1', '1.', '.5', '', '-', '1,5', '0x10', '1_000', 'NaN', 'Infinity', '١'])(
    'refuses the malformed string %p',
    (input) => {
      expect(message(parseDecimal(input, opts))).toMatch(/plain decimal/);
    },
  );

  it('refuses strings longer than 40 characters', () => {
    expect(parseDecimal('1'.repeat(40), { maxScale: 0 }).ok).toBe(true);
    expect(message(parseDecimal('1'.repeat(41), { maxScale: 0 }))).toMatch(/at most 40 characters/);
  });

  it('refuses more fractional digits than maxScale instead of rounding', () => {
    expect(message(parseDecimal('0.0000000000001', { maxScale: 12 }))).toBe(
      'The value must have at most 12 digits after the decimal point.',
    );
  });

  it('accepts exactly maxScale fractional digits', () => {
    expect(value(parseDecimal('0.000000000001', { maxScale: 12 }))).toBe('0.000000000001');
  });

  it('refuses any fraction when maxScale is 0', () => {
    expect(message(parseDecimal('1.0', { maxScale: 0 }))).toBe('The value must be a whole number.');
  });

  it('refuses more integer digits than maxIntegerDigits, ignoring leading zeros', () => {
    expect(value(parseDecimal('0099', { maxScale: 2, maxIntegerDigits: 2 }))).toBe('99');
    expect(message(parseDecimal('100', { maxScale: 2, maxIntegerDigits: 2 }))).toMatch(/at most 2 digits before/);
  });

  it('refuses negative values unless allowNegative', () => {
    expect(message(parseDecimal('-1', opts))).toBe('The value must be greater than zero.');
    expect(value(parseDecimal('-1.25', { ...opts, allowNegative: true }))).toBe('-1.25');
  });

  it('refuses zero (and "-0") unless allowZero', () => {
    expect(message(parseDecimal('0', opts))).toBe('The value must be greater than zero.');
    expect(message(parseDecimal('-0.00', { ...opts, allowNegative: true }))).toBe('The value must not be zero.');
    expect(value(parseDecimal('0.00', { ...opts, allowZero: true }))).toBe('0');
  });

  it('turns "-0" into an unsigned zero when zero is allowed', () => {
    const r = parseDecimal('-0', { ...opts, allowZero: true });
    expect(r.ok && r.value.isNegative()).toBe(false);
  });

  it('refuses negative values with "must not be negative" when zero is allowed', () => {
    expect(message(parseDecimal('-0.01', { ...opts, allowZero: true }))).toBe('The value must not be negative.');
  });

  it('names the field in its message when given one', () => {
    expect(message(parseDecimal('abc', { maxScale: 2, field: 'amount' }))).toMatch(/^amount must be a plain decimal/);
  });

  it('round-trips with formatMoney for any canonical decimal up to 18 places (property)', () => {
    fc.assert(
      fc.property(canonicalDecimal(18, 20), (s) => {
        expect(value(parseDecimal(s, { maxScale: 18, allowNegative: true, allowZero: true }))).toBe(s);
      }),
    );
  });

  it('formatMoney output always parses back to the same value (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }), (units) => {
        const money = new Money(units.toString()).dividedBy(new Money(10).pow(18));
        const r = parseDecimal(formatMoney(money), { maxScale: 18, allowNegative: true, allowZero: true });
        expect(r.ok && r.value.equals(money)).toBe(true);
      }),
    );
  });
});

describe('roundHalfUpToCents', () => {
  const cents = (s: string): string => formatMoney(roundHalfUpToCents(new Money(s)));

  it('rounds 0.005 up to 0.01', () => {
    expect(cents('0.005')).toBe('0.01');
  });

  it('rounds -0.005 away from zero to -0.01', () => {
    expect(cents('-0.005')).toBe('-0.01');
  });

  it('rounds 1.234999 down to 1.23', () => {
    expect(cents('1.234999')).toBe('1.23');
  });

  it('rounds 1.235 up to 1.24', () => {
    expect(cents('1.235')).toBe('1.24');
  });

  it('rounds one output token of cost (0.00000007) to 0', () => {
    expect(cents('0.00000007')).toBe('0');
  });

  it('rounds a 20-digit balance without losing integer digits', () => {
    expect(cents('12345678901234567890.004999999999999999')).toBe('12345678901234567890');
  });

  it('rounds a plain default-precision Decimal through the Money clone', () => {
    expect(formatMoney(roundHalfUpToCents(new Decimal('2.345')))).toBe('2.35');
    expect(roundHalfUpToCents(new Decimal('2.345')).constructor).toBe(Money);
  });

  it('is never more than 0.005 away from the exact value and has at most 2 decimals (property)', () => {
    fc.assert(
      fc.property(canonicalDecimal(18, 20), (s) => {
        const exact = new Money(s);
        const rounded = roundHalfUpToCents(exact);
        expect(rounded.minus(exact).abs().lessThanOrEqualTo('0.005')).toBe(true);
        expect(rounded.decimalPlaces()).toBeLessThanOrEqual(2);
      }),
    );
  });
});
