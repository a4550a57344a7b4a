import { Money, roundHalfUpToCents } from './money.js';
import { lineAmount } from './pricing.js';
import type { ModelPrice } from './rate-card.js';

export const TOKEN_CLASSES = ['input', 'cached_input', 'output'] as const;
export type TokenClass = (typeof TOKEN_CLASSES)[number];

/** Billable token totals of one usage month for one model and rate card version. */
export interface UsageTotals {
  usagePeriod: string;
  model: string;
  rateCardVersion: number;
  tokens: Record<TokenClass, bigint>;
}

/** Tokens already billed on some invoice for a usage month, model, version and class. */
export interface BilledTokens {
  usagePeriod: string;
  model: string;
  rateCardVersion: number;
  tokenClass: TokenClass;
  tokens: bigint;
}

export interface InvoiceLine {
  model: string;
  tokenClass: TokenClass;
  rateCardVersion: number;
  unitPricePerMillion: Money;
  tokens: bigint;
  amount: Money;
  /** The month the usage belongs to. */
  usagePeriod: string;
  /** Usage of an earlier month, billed here because that month's invoice was already final. */
  late: boolean;
}

export interface BuiltInvoice {
  lines: InvoiceLine[];
  usageTotal: Money;
  usageTotalRounded: Money;
  closingBalance: Money;
}

export interface InvoiceInput {
  period: string;
  openingBalance: Money;
  creditsTotal: Money;
  /** What expiries and voids removed from the account's grants in the month (>= 0). */
  expiredTotal?: Money;
  voidedTotal?: Money;
  usage: UsageTotals[];
  priceOf: (rateCardVersion: number, model: string) => ModelPrice | undefined;
}

const PRICE_FIELD: Record<TokenClass, keyof ModelPrice> = {
  input: 'inputPerMillion',
  cached_input: 'cachedInputPerMillion',
  output: 'outputPerMillion',
};

const key = (u: { usagePeriod: string; model: string; rateCardVersion: number }) => `${u.usagePeriod}|${u.model}|${u.rateCardVersion}`;

/**
 * What is left to bill: usage totals minus the tokens invoices already carry for the same
 * month, model, version and class. More billed than used can only mean broken data: it throws.
 */
export function unbilledUsage(usage: readonly UsageTotals[], billed: readonly BilledTokens[]): UsageTotals[] {
  const done = new Map<string, bigint>();
  for (const b of billed) done.set(`${key(b)}|${b.tokenClass}`, (done.get(`${key(b)}|${b.tokenClass}`) ?? 0n) + b.tokens);
  const result: UsageTotals[] = [];
  for (const u of usage) {
    const tokens = { input: 0n, cached_input: 0n, output: 0n };
    for (const tokenClass of TOKEN_CLASSES) {
      const left = u.tokens[tokenClass] - (done.get(`${key(u)}|${tokenClass}`) ?? 0n);
      if (left < 0n) throw new RangeError(`more ${tokenClass} tokens billed than used for ${key(u)}`);
      tokens[tokenClass] = left;
    }
    if (TOKEN_CLASSES.some((c) => tokens[c] > 0n)) result.push({ ...u, tokens });
  }
  return result;
}

/**
 * The lines and totals of a monthly invoice: one line per model x token class x rate card
 * version (and usage month, for late usage), each amount exact; the usage total is their
 * exact sum, rounded once, half-up, to cents for usage_total_rounded; and
 * opening + credits - usage = closing exactly.
 */
export function buildInvoice(input: InvoiceInput): BuiltInvoice {
  const lines: InvoiceLine[] = [];
  const ordered = [...input.usage].sort(
    (a, b) =>
      Number(a.usagePeriod !== input.period) - Number(b.usagePeriod !== input.period) ||
      a.usagePeriod.localeCompare(b.usagePeriod) ||
      a.model.localeCompare(b.model) ||
      a.rateCardVersion - b.rateCardVersion,
  );
  for (const usage of ordered) {
    if (usage.usagePeriod > input.period) throw new RangeError(`usage of ${usage.usagePeriod} cannot be billed on ${input.period}`);
    const price = input.priceOf(usage.rateCardVersion, usage.model);
    if (!price) throw new RangeError(`no price for ${usage.model} in rate card version ${usage.rateCardVersion}`);
    for (const tokenClass of TOKEN_CLASSES) {
      const tokens = usage.tokens[tokenClass];
      if (tokens === 0n) continue;
      const unitPricePerMillion = price[PRICE_FIELD[tokenClass]];
      lines.push({
        model: usage.model,
        tokenClass,
        rateCardVersion: usage.rateCardVersion,
        unitPricePerMillion,
        tokens,
        amount: lineAmount(tokens, unitPricePerMillion),
        usagePeriod: usage.usagePeriod,
        late: usage.usagePeriod !== input.period,
      });
    }
  }
  const usageTotal = lines.reduce((sum, line) => sum.add(line.amount), new Money(0));
  return {
    lines,
    usageTotal,
    usageTotalRounded: roundHalfUpToCents(usageTotal),
    closingBalance: input.openingBalance
      .add(input.creditsTotal)
      .sub(usageTotal)
      .sub(input.expiredTotal ?? 0)
      .sub(input.voidedTotal ?? 0),
  };
}
