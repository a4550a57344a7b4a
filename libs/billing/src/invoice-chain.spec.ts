import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LAUNCH_PRICES } from './catalog.js';
import { planDrafts, type ChainInvoice, type PricedUsageTotals } from './invoice-chain.js';
import type { BilledTokens } from './invoice.js';
import { Money, formatMoney } from './money.js';
import { lineAmount } from './pricing.js';

const PRICE = LAUNCH_PRICES.prices['qwen3-5-4b'];
const priceOf = (version: number) => (version === 1 ? PRICE : undefined);
const usage = (usagePeriod: string, input: bigint, output = 0n): PricedUsageTotals => ({
  usagePeriod,
  model: 'qwen3-5-4b',
  rateCardVersion: 1,
  tokens: { input, cached_input: 0n, output },
  cost: lineAmount(input, PRICE.inputPerMillion).add(lineAmount(output, PRICE.outputPerMillion)),
});
const billed = (usagePeriod: string, input: bigint): BilledTokens => ({ usagePeriod, model: 'qwen3-5-4b', rateCardVersion: 1, tokenClass: 'input', tokens: input });
const draft = (period: string): ChainInvoice => ({ period, status: 'draft', usageTotal: new Money(0) });
const finalized = (period: string, usageTotal: string): ChainInvoice => ({ period, status: 'finalized', usageTotal: new Money(usageTotal) });
const summary = (drafts: ReturnType<typeof planDrafts>) =>
  drafts.map((d) => ({
    period: d.period,
    opening: formatMoney(d.openingBalance),
    credits: formatMoney(d.creditsTotal),
    usage: formatMoney(d.usageTotal),
    closing: formatMoney(d.closingBalance),
    seen: d.usageSeen && formatMoney(d.usageSeen),
    lines: d.lines.map((l) => `${l.usagePeriod}${l.late ? ' late' : ''} ${l.tokenClass} ${l.tokens}`),
  }));

describe('planDrafts', () => {
  it('bills usage of a month without an invoice on the next open draft, which opens where the finalized one before it closed', () => {
    const drafts = planDrafts({
      invoices: [finalized('2026-09', '0.004'), draft('2026-11')],
      usage: [usage('2026-09', 100_000n), usage('2026-10', 200_000n), usage('2026-11', 100_000n)],
      finalizedBilled: [billed('2026-09', 100_000n)],
      credits: new Map([['2026-08', new Money(1)]]),
      priceOf,
    });
    expect(summary(drafts)).toEqual([
      { period: '2026-11', opening: '0.996', credits: '0', usage: '0.012', closing: '0.984', seen: '0.016', lines: ['2026-11 input 100000', '2026-10 late input 200000'] },
    ]);
  });

  it('gives each month\'s unbilled usage to the first open draft of that month or later, and chains the drafts', () => {
    const drafts = planDrafts({
      invoices: [draft('2026-11'), finalized('2026-08', '0'), draft('2026-10')],
      usage: [usage('2026-08', 1_000_000n), usage('2026-09', 2_000_000n), usage('2026-10', 3_000_000n), usage('2026-11', 4_000_000n)],
      finalizedBilled: [],
      credits: new Map([['2026-10', new Money('0.5')]]),
      priceOf,
    });
    expect(summary(drafts)).toEqual([
      { period: '2026-10', opening: '0', credits: '0.5', usage: '0.24', closing: '0.26', seen: '0.24', lines: ['2026-10 input 3000000', '2026-08 late input 1000000', '2026-09 late input 2000000'] },
      { period: '2026-11', opening: '0.26', credits: '0', usage: '0.16', closing: '0.1', seen: '0.4', lines: ['2026-11 input 4000000'] },
    ]);
  });

  it('gives a draft before a finalized invoice its credits but no usage, which waits for an open draft', () => {
    const drafts = planDrafts({
      invoices: [finalized('2026-09', '0'), draft('2026-10'), finalized('2026-11', '0.04')],
      usage: [usage('2026-10', 1_000_000n), usage('2026-11', 1_000_000n)],
      finalizedBilled: [billed('2026-11', 1_000_000n)],
      credits: new Map([['2026-10', new Money(2)]]),
      priceOf,
    });
    expect(summary(drafts)).toEqual([{ period: '2026-10', opening: '0', credits: '2', usage: '0', closing: '2', seen: null, lines: [] }]);
  });

  it('bills nothing that a finalized invoice bills already, and plans nothing without drafts', () => {
    const base = { usage: [usage('2026-09', 150_000n)], finalizedBilled: [billed('2026-09', 50_000n)], credits: new Map(), priceOf };
    expect(summary(planDrafts({ ...base, invoices: [draft('2026-09'), finalized('2026-08', '0')] }))[0].lines).toEqual(['2026-09 input 100000']);
    expect(planDrafts({ ...base, invoices: [finalized('2026-10', '0.002')] })).toEqual([]);
  });

  const MONTHS = ['2026-07', '2026-08', '2026-09', '2026-10', '2026-11'];
  const chainArb = fc.record({
    statuses: fc.array(fc.constantFrom('none', 'draft', 'finalized'), { minLength: MONTHS.length, maxLength: MONTHS.length }),
    used: fc.array(fc.bigInt({ min: 0n, max: 10n ** 9n }), { minLength: MONTHS.length, maxLength: MONTHS.length }),
    billedShare: fc.array(fc.bigInt({ min: 0n, max: 100n }), { minLength: MONTHS.length, maxLength: MONTHS.length }),
    credits: fc.array(fc.integer({ min: -5, max: 5 }), { minLength: MONTHS.length, maxLength: MONTHS.length }),
  });

  it('bills every unbilled token once when an open draft follows it, and each draft opens at credits before it less what earlier invoices bill', () => {
    fc.assert(
      fc.property(chainArb, ({ statuses, used, billedShare, credits }) => {
        const invoices = MONTHS.flatMap((period, i) =>
          statuses[i] === 'draft' ? [draft(period)] : statuses[i] === 'finalized' ? [finalized(period, formatMoney(lineAmount((used[i] * billedShare[i]) / 100n, PRICE.inputPerMillion)))] : [],
        );
        const finalizedBilled = MONTHS.flatMap((period, i) => (statuses[i] === 'finalized' ? [billed(period, (used[i] * billedShare[i]) / 100n)] : []));
        const drafts = planDrafts({
          invoices,
          usage: MONTHS.map((period, i) => usage(period, used[i])),
          finalizedBilled,
          credits: new Map(MONTHS.map((period, i) => [period, new Money(credits[i])])),
          priceOf,
        });
        const lastFinalized = MONTHS.filter((_, i) => statuses[i] === 'finalized').at(-1) ?? '';
        const lastOpen = MONTHS.filter((m, i) => statuses[i] === 'draft' && m > lastFinalized).at(-1) ?? '';
        MONTHS.forEach((period, i) => {
          const onDrafts = drafts.flatMap((d) => d.lines).filter((l) => l.usagePeriod === period).reduce((sum, l) => sum + l.tokens, 0n);
          const unbilled = used[i] - (statuses[i] === 'finalized' ? (used[i] * billedShare[i]) / 100n : 0n);
          expect(onDrafts).toBe(period <= lastOpen ? unbilled : 0n);
        });
        let before = new Money(0);
        for (const period of MONTHS) {
          const plannedDraft = drafts.find((d) => d.period === period);
          const credit = MONTHS.filter((m) => m < period).reduce((sum, m) => sum.add(credits[MONTHS.indexOf(m)]), new Money(0));
          if (plannedDraft) expect(formatMoney(plannedDraft.openingBalance)).toBe(formatMoney(credit.sub(before)));
          before = before.add(plannedDraft?.usageTotal ?? invoices.find((inv) => inv.period === period)?.usageTotal ?? 0);
        }
      }),
    );
  });
});
