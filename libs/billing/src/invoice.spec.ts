import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LAUNCH_PRICES } from './catalog.js';
import { buildInvoice, unbilledUsage, type UsageTotals } from './invoice.js';
import { Money, formatMoney } from './money.js';
import { parsePeriod, periodName, periodOf, previousPeriod } from './period.js';
import type { ModelPrice } from './rate-card.js';

const V2: ModelPrice = { inputPerMillion: new Money('0.035'), outputPerMillion: new Money('0.065'), cachedInputPerMillion: new Money('0.0175') };
const priceOf = (version: number) => (version === 1 ? LAUNCH_PRICES.prices['qwen3-5-4b'] : version === 2 ? V2 : undefined);
const usage = (usagePeriod: string, rateCardVersion: number, input: bigint, cached: bigint, output: bigint): UsageTotals => ({
  usagePeriod,
  model: 'qwen3-5-4b',
  rateCardVersion,
  tokens: { input, cached_input: cached, output },
});

describe('periods', () => {
  it('parses a UTC month with exclusive end', () => {
    expect(parsePeriod('2026-11')).toEqual({ id: '2026-11', start: new Date('2026-11-01T00:00:00Z'), end: new Date('2026-12-01T00:00:00Z') });
    expect(parsePeriod('2026-12')!.end).toEqual(new Date('2027-01-01T00:00:00Z'));
  });

  it.each(['2026-13', '2026-1', '26-11', '2026-11-01', '', 'november', 202611])('refuses %j', (id) => {
    expect(parsePeriod(id)).toBeNull();
  });

  it('puts 23:59:59.999 and 00:00:00.000 on either side of a month edge', () => {
    expect(periodOf(new Date('2026-11-30T23:59:59.999Z')).id).toBe('2026-11');
    expect(periodOf(new Date('2026-12-01T00:00:00.000Z')).id).toBe('2026-12');
    expect(previousPeriod(parsePeriod('2027-01')!).id).toBe('2026-12');
    expect(periodName(parsePeriod('2026-11')!)).toBe('November 2026');
  });
});

describe('buildInvoice', () => {
  it('makes one line per model x class x version, each exact, and the balance equation holds', () => {
    const built = buildInvoice({
      period: '2026-11',
      openingBalance: new Money('10'),
      creditsTotal: new Money('25'),
      usage: [usage('2026-11', 2, 1_000_000n, 0n, 3n), usage('2026-11', 1, 262_144n, 1024n, 32_768n)],
      priceOf,
    });
    expect(built.lines.map((l) => [l.rateCardVersion, l.tokenClass, l.tokens, formatMoney(l.unitPricePerMillion), formatMoney(l.amount), l.late])).toEqual([
      [1, 'input', 262_144n, '0.04', '0.01048576', false],
      [1, 'cached_input', 1024n, '0.02', '0.00002048', false],
      [1, 'output', 32_768n, '0.07', '0.00229376', false],
      [2, 'input', 1_000_000n, '0.035', '0.035', false],
      [2, 'output', 3n, '0.065', '0.000000195', false],
    ]);
    expect(formatMoney(built.usageTotal)).toBe('0.047800195');
    expect(formatMoney(built.usageTotalRounded)).toBe('0.05');
    expect(formatMoney(built.closingBalance)).toBe('34.952199805');
  });

  it('puts late usage after the month\'s own, marked with the month it belongs to', () => {
    const built = buildInvoice({
      period: '2026-12',
      openingBalance: new Money(0),
      creditsTotal: new Money(0),
      usage: [usage('2026-10', 1, 0n, 0n, 1n), usage('2026-12', 1, 5n, 0n, 0n), usage('2026-11', 1, 0n, 0n, 2n)],
      priceOf,
    });
    expect(built.lines.map((l) => [l.usagePeriod, l.late, l.tokenClass])).toEqual([
      ['2026-12', false, 'input'],
      ['2026-10', true, 'output'],
      ['2026-11', true, 'output'],
    ]);
  });

  it('refuses usage of a later month and usage without a price', () => {
    const base = { period: '2026-11', openingBalance: new Money(0), creditsTotal: new Money(0), priceOf };
    expect(() => buildInvoice({ ...base, usage: [usage('2026-12', 1, 1n, 0n, 0n)] })).toThrow(RangeError);
    expect(() => buildInvoice({ ...base, usage: [usage('2026-11', 9, 1n, 0n, 0n)] })).toThrow('no price');
  });

  it('an empty month has no lines and closes where it opened plus credits', () => {
    const built = buildInvoice({ period: '2026-11', openingBalance: new Money('-1.5'), creditsTotal: new Money('2'), usage: [], priceOf });
    expect(built.lines).toEqual([]);
    expect(formatMoney(built.closingBalance)).toBe('0.5');
    expect(formatMoney(built.usageTotalRounded)).toBe('0');
  });

  const tokens = fc.bigInt({ min: 0n, max: 10n ** 13n });
  const usageArb = fc.array(fc.record({ version: fc.constantFrom(1, 2), input: tokens, cached: tokens, output: tokens }), { maxLength: 8 });

  it('lines always add up to usage_total exactly, and opening + credits - usage = closing', () => {
    fc.assert(
      fc.property(usageArb, fc.bigInt({ min: -(10n ** 20n), max: 10n ** 20n }), (rows, openingMicros) => {
        const opening = new Money(openingMicros.toString()).div(1_000_000);
        const built = buildInvoice({
          period: '2026-11',
          openingBalance: opening,
          creditsTotal: new Money('3.14'),
          usage: rows.map((r) => usage('2026-11', r.version, r.input, r.cached, r.output)),
          priceOf,
        });
        const sum = built.lines.reduce((s, l) => s.add(l.amount), new Money(0));
        expect(sum.eq(built.usageTotal)).toBe(true);
        expect(opening.add('3.14').sub(built.usageTotal).eq(built.closingBalance)).toBe(true);
        expect(built.usageTotalRounded.sub(built.usageTotal).abs().lte('0.005')).toBe(true);
        expect(built.usageTotalRounded.decimalPlaces()).toBeLessThanOrEqual(2);
      }),
    );
  });
});

describe('unbilledUsage', () => {
  it('subtracts what invoices already carry, class by class, and drops what is fully billed', () => {
    const left = unbilledUsage(
      [usage('2026-10', 1, 100n, 10n, 50n), usage('2026-10', 2, 5n, 0n, 0n)],
      [
        { usagePeriod: '2026-10', model: 'qwen3-5-4b', rateCardVersion: 1, tokenClass: 'input', tokens: 100n },
        { usagePeriod: '2026-10', model: 'qwen3-5-4b', rateCardVersion: 1, tokenClass: 'output', tokens: 40n },
        { usagePeriod: '2026-10', model: 'qwen3-5-4b', rateCardVersion: 2, tokenClass: 'input', tokens: 5n },
      ],
    );
    expect(left).toEqual([usage('2026-10', 1, 0n, 10n, 10n)]);
  });

  it('throws when more was billed than used', () => {
    expect(() =>
      unbilledUsage([usage('2026-10', 1, 1n, 0n, 0n)], [{ usagePeriod: '2026-10', model: 'qwen3-5-4b', rateCardVersion: 1, tokenClass: 'input', tokens: 2n }]),
    ).toThrow(RangeError);
  });
});
