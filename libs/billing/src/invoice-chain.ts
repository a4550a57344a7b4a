import { Money } from './money.js';
import { buildInvoice, unbilledUsage, type BilledTokens, type BuiltInvoice, type InvoiceInput, type UsageTotals } from './invoice.js';

/**
 * An account's invoices form a chain, month after month. Finalized invoices never change; drafts
 * are derived, and are always rebuilt together, in month order, by planDrafts:
 *
 * - Usage that no finalized invoice bills belongs to the first *open* draft of its month or a later
 *   one. Open drafts are those after the account's latest finalized invoice; a draft before a
 *   finalized invoice (a month invoiced after a later one was finalized) carries no usage, because
 *   the finalized invoice after it already opens where it must close. Usage with no open draft to
 *   go to waits for the next invoice run that creates one.
 * - Every draft opens at the account's credits made before its month, less the usage that the
 *   live invoices of earlier months bill: the ledger at the start of the month, less what earlier
 *   invoices have not billed yet. Its credits are those made in its month.
 */

/** One of the account's live (not void) invoices. */
export interface ChainInvoice {
  period: string;
  status: 'draft' | 'finalized';
  /** What a finalized invoice bills (a draft's is rebuilt, so it is not read). */
  usageTotal: Money;
}

/** Usage totals of a month, model and rate card version, with their exact cost. */
export interface PricedUsageTotals extends UsageTotals {
  cost: Money;
}

export interface ChainInput {
  invoices: readonly ChainInvoice[];
  /** All of the account's usage. */
  usage: readonly PricedUsageTotals[];
  /** What the account's finalized invoices bill of it. */
  finalizedBilled: readonly BilledTokens[];
  /** Every ledger entry but usage (credits, adjustments, expiries, voids: signed) by the month it was made in. */
  credits: ReadonlyMap<string, Money>;
  /** Of those, what expiries and what voids removed (as positive amounts), by month. */
  removed?: ReadonlyMap<string, { expired: Money; voided: Money }>;
  priceOf: InvoiceInput['priceOf'];
}

export interface PlannedDraft extends BuiltInvoice {
  period: string;
  openingBalance: Money;
  /** Credits and adjustments made in the month (expiries and voids apart, below). */
  creditsTotal: Money;
  expiredTotal: Money;
  voidedTotal: Money;
  /**
   * For an open draft: the cost of all the account's usage of its month and earlier, as priced
   * now. Once the drafts are written, the live invoices up to this one bill exactly that (a check
   * for reconciliation). Null for a draft before a finalized invoice, which carries no usage.
   */
  usageSeen: Money | null;
}

/** The account's drafts rebuilt, in month order. */
export function planDrafts(input: ChainInput): PlannedDraft[] {
  const chain = [...input.invoices].sort((a, b) => a.period.localeCompare(b.period));
  const lastFinalized = chain.filter((i) => i.status === 'finalized').at(-1)?.period ?? '';
  const open = chain.filter((i) => i.status === 'draft' && i.period > lastFinalized).map((i) => i.period);
  const owned = new Map<string, UsageTotals[]>(open.map((period) => [period, []]));
  for (const usage of unbilledUsage(input.usage, input.finalizedBilled)) {
    const owner = open.find((period) => period >= usage.usagePeriod);
    if (owner) owned.get(owner)!.push(usage);
  }
  const creditsBefore = (period: string) => [...input.credits].reduce((sum, [month, amount]) => (month < period ? sum.add(amount) : sum), new Money(0));
  const usageUpTo = (period: string) => input.usage.reduce((sum, u) => (u.usagePeriod <= period ? sum.add(u.cost) : sum), new Money(0));

  const planned: PlannedDraft[] = [];
  let billedBefore = new Money(0);
  for (const invoice of chain) {
    if (invoice.status === 'finalized') {
      billedBefore = billedBefore.add(invoice.usageTotal);
      continue;
    }
    const openingBalance = creditsBefore(invoice.period).sub(billedBefore);
    // The month's entries net (credits_total) less what expiries and voids took out of them: those are shown apart.
    const { expired: expiredTotal, voided: voidedTotal } = input.removed?.get(invoice.period) ?? { expired: new Money(0), voided: new Money(0) };
    const creditsTotal = (input.credits.get(invoice.period) ?? new Money(0)).add(expiredTotal).add(voidedTotal);
    const usage = owned.get(invoice.period);
    const built = buildInvoice({ period: invoice.period, openingBalance, creditsTotal, expiredTotal, voidedTotal, usage: usage ?? [], priceOf: input.priceOf });
    planned.push({ ...built, period: invoice.period, openingBalance, creditsTotal, expiredTotal, voidedTotal, usageSeen: usage ? usageUpTo(invoice.period) : null });
    billedBefore = billedBefore.add(built.usageTotal);
  }
  return planned;
}
