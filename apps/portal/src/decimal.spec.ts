import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import DecimalJs from 'decimal.js';
import { addDecimals, chartGeometry, formatCount, formatMoney, isNegative, normalize, sumDecimals } from './decimal';

/** Enough significant digits for 30 integer and 18 fraction digits, summed 20 times. */
const Decimal = DecimalJs.clone({ precision: 100 });


const decimalString = fc
  .tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.integer({ min: 0, max: 18 }))
  .map(([negative, units, scale]) => {
    const digits = units.toString().padStart(scale + 1, '0');
    const text = scale ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
    return negative ? `-${text}` : text;
  });

describe('formatMoney', () => {
  it.each([
    ['24.99999993', '$24.99999993'],
    ['25', '$25.00'],
    ['25.5', '$25.50'],
    ['1234567.891', '$1,234,567.891'],
    ['-0.00000007', '\u2212$0.00000007'],
    ['0.000000000000000001', '$0.000000000000000001'],
    ['-1000', '\u2212$1,000.00'],
    ['0', '$0.00'],
    ['-0.000', '$0.00'],
    ['007.10', '$7.10'],
  ])('shows %s as %s', (value, shown) => {
    expect(formatMoney(value)).toBe(shown);
  });

  it('marks amounts above zero with + when signed', () => {
    expect([formatMoney('25.00', { signed: true }), formatMoney('-0.01', { signed: true }), formatMoney('0', { signed: true })]).toEqual([
      '+$25.00',
      '\u2212$0.01',
      '$0.00',
    ]);
  });

  it('keeps every digit of any amount (the digits shown are the digits given)', () =>
    fc.assert(
      fc.property(decimalString, (value) => {
        const shown = formatMoney(value).replace(/[$,+]/g, '').replace('\u2212', '-');
        expect(new Decimal(shown).eq(new Decimal(value))).toBe(true);
      }),
    ));

  it('refuses what is not a decimal string rather than guess', () => {
    for (const bad of ['', '1e3', '1.', '.5', 'NaN', '1,000', ' 1']) expect(() => formatMoney(bad)).toThrow(RangeError);
  });
});

describe('sumDecimals', () => {
  it('adds amounts a float would round', () => {
    expect(addDecimals('0.1', '0.2')).toBe('0.3');
    expect(addDecimals('0.1', '0.000000000000000001')).toBe('0.100000000000000001');
    expect(sumDecimals(['9007199254740993', '0.000000000000000001'])).toBe('9007199254740993.000000000000000001');
  });

  it('handles signs and zero', () => {
    expect(sumDecimals([])).toBe('0');
    expect(sumDecimals(['-0.5', '0.25'])).toBe('-0.25');
    expect(sumDecimals(['-0.5', '0.5'])).toBe('0');
    expect(sumDecimals(['-1', '-0.000001'])).toBe('-1.000001');
  });

  it('equals decimal.js exactly for any amounts', () =>
    fc.assert(
      fc.property(fc.array(decimalString, { maxLength: 20 }), (values) => {
        const expected = values.reduce((total, v) => total.plus(v), new Decimal(0));
        expect(new Decimal(sumDecimals(values)).eq(expected)).toBe(true);
        expect(sumDecimals(values)).toBe(normalize(expected.toFixed()));
      }),
    ));
});

describe('helpers', () => {
  it('tells negative amounts, -0 included as not negative', () => {
    expect([isNegative('-0.01'), isNegative('0.01'), isNegative('-0')]).toEqual([true, false, false]);
  });

  it('groups token counts', () => {
    expect([formatCount(0), formatCount(1234), formatCount(12_345_678)]).toEqual(['0', '1,234', '12,345,678']);
    expect(() => formatCount(1.5)).toThrow(RangeError);
  });

  it('turns a decimal into a float for geometry only', () => {
    expect(chartGeometry('0.0609375')).toBe(0.0609375);
    expect(chartGeometry('-2.50')).toBe(-2.5);
  });
});
