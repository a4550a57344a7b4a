import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  BillingException,
  BillingExceptionCode,
  Money,
  formatMoney,
  parsePeriod,
  periodOf,
  planDrafts,
  type BilledTokens,
  type ChainInvoice,
  type Period,
  type PricedUsageTotals,
} from '@app/billing';
import { PricingContextCache } from './pricing-context.cache.js';
import { InvoicesRepository, type BilledRow, type InvoiceRow, type InvoiceWrite, type UsageTotalsRow } from './repositories/invoices.repository.js';

/** Accounts per transaction: progress is reported, and locks are held, chunk by chunk. */
export const INVOICE_CHUNK = 250;

export interface GenerationProgress {
  period: string;
  done: number;
  total: number;
}

export interface GenerationResult {
  period: string;
  accounts: number;
  created: number;
  refreshed: number;
}

/**
 * Monthly invoices from the monthly rollups: work grows with accounts x lines, not with events.
 * Generation is repeatable: it creates what is missing, rebuilds drafts, never touches a
 * finalized invoice. Whatever changes an account's invoices rebuilds all of its drafts together
 * (planDrafts), so usage that no finalized invoice bills is on exactly one of them, whenever it
 * arrived and whichever months have invoices, and each opens where the ledger says.
 */
@Injectable()
export class InvoicingService {
  private readonly logger = new Logger('Invoicing');

  constructor(
    private readonly invoices: InvoicesRepository,
    private readonly pricing: PricingContextCache,
  ) {}

  async generate(periodId: string, onProgress?: (progress: GenerationProgress) => void): Promise<GenerationResult> {
    const period = this.requirePeriod(periodId);
    if (period.start > new Date()) {
      throw new BillingException(BillingExceptionCode.VALIDATION, `${period.id} has not started yet.`, [{ field: 'period', message: 'in the future' }]);
    }
    const accounts = await this.invoices.accountsToInvoice(period.id);
    const result: GenerationResult = { period: period.id, accounts: accounts.length, created: 0, refreshed: 0 };
    onProgress?.({ period: period.id, done: 0, total: accounts.length });
    for (let i = 0; i < accounts.length; i += INVOICE_CHUNK) {
      const chunk = accounts.slice(i, i + INVOICE_CHUNK);
      const { created, refreshed } = await this.invoices.locked((tx) => this.rebuild(tx, chunk, period));
      result.created += created;
      result.refreshed += refreshed;
      onProgress?.({ period: period.id, done: Math.min(i + INVOICE_CHUNK, accounts.length), total: accounts.length });
    }
    this.logger.log({ msg: 'invoices generated', ...result });
    return result;
  }

  /** Rebuilds the draft from the latest usage, then freezes it. Finalizing twice changes nothing. */
  finalize(invoiceId: string): Promise<InvoiceRow> {
    return this.invoices.locked(async (tx) => {
      const invoice = await this.require(invoiceId, tx);
      if (invoice.status === 'finalized') return invoice;
      if (invoice.status === 'void') throw new BillingException(BillingExceptionCode.CONFLICT, `Invoice ${invoice.number} is void; it cannot be finalized.`);
      const period = parsePeriod(invoice.period)!;
      if (period.end > new Date()) {
        throw new BillingException(BillingExceptionCode.CONFLICT, `${period.id} is not over yet; its invoice can be finalized from ${period.end.toISOString()}.`);
      }
      const previous = await this.invoices.previous(tx, invoice);
      if (previous?.status === 'draft') {
        throw new BillingException(BillingExceptionCode.CONFLICT, `Finalize ${previous.number} first: this invoice opens where it closes.`);
      }
      await this.rebuild(tx, [invoice.account_id]);
      await this.invoices.setStatus(tx, invoiceId, 'finalized');
      return (await this.invoices.find(invoiceId, tx))!;
    });
  }

  /**
   * A finalized invoice can be voided (and its month invoiced again) while no later invoice of the
   * account is finalized: those open where it closes, and may bill its late usage. A draft cannot.
   * The account's drafts are rebuilt at once: the voided month's usage is owed again.
   */
  void(invoiceId: string): Promise<InvoiceRow> {
    return this.invoices.locked(async (tx) => {
      const invoice = await this.require(invoiceId, tx);
      if (invoice.status === 'void') return invoice;
      if (invoice.status === 'draft') {
        throw new BillingException(BillingExceptionCode.CONFLICT, `Invoice ${invoice.number} is a draft: only a finalized invoice can be voided.`);
      }
      const later = await this.invoices.finalizedAfter(tx, invoice);
      if (later) {
        const late = later.late_tokens === '0' ? '' : `, and bill ${later.late_tokens} tokens of ${invoice.period} as late usage`;
        throw new BillingException(
          BillingExceptionCode.CONFLICT,
          `${invoice.number} cannot be voided while ${later.newest} is finalized: the finalized invoices after it open where it closes${late}. Void invoices newest first, then invoice the months again in order.`,
        );
      }
      await this.invoices.setStatus(tx, invoiceId, 'void');
      await this.rebuild(tx, [invoice.account_id]);
      return (await this.invoices.find(invoiceId, tx))!;
    });
  }

  /** The month a scheduled run invoices: the one before the month of `now`. */
  static previousMonth(now: Date): string {
    return periodOf(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) - 1)).id;
  }

  /**
   * Rebuilds every draft of the accounts, after creating one for `period` where the account has
   * no live invoice of that month. Counts the new invoices and the month's drafts refreshed.
   */
  private async rebuild(tx: EntityManager, accounts: string[], period?: Period) {
    const [inputs, pricing] = await Promise.all([this.invoices.chainInputs(tx, accounts), this.pricing.get()]);
    const cards = new Map(pricing.rateCards.map((card) => [card.version, card]));
    const priceOf = (version: number, model: string) => cards.get(version)?.prices[model];
    const writes: InvoiceWrite[] = [];
    let refreshed = 0;
    for (const accountId of accounts) {
      const live = inputs.invoices.get(accountId) ?? [];
      const ids = new Map(live.filter((i) => i.status === 'draft').map((i) => [i.period, i.invoice_id]));
      const invoices: ChainInvoice[] = live.map((i) => ({ period: i.period, status: i.status, usageTotal: new Money(i.usage_total) }));
      if (period && ids.has(period.id)) refreshed++;
      else if (period && !live.some((i) => i.period === period.id)) invoices.push({ period: period.id, status: 'draft', usageTotal: new Money(0) });
      const drafts = planDrafts({
        invoices,
        usage: (inputs.usage.get(accountId) ?? []).map(toUsageTotals),
        finalizedBilled: (inputs.finalizedBilled.get(accountId) ?? []).map(toBilledTokens),
        credits: new Map((inputs.credits.get(accountId) ?? []).map((c) => [c.period, new Money(c.total)])),
        removed: new Map((inputs.credits.get(accountId) ?? []).map((c) => [c.period, { expired: new Money(c.expired), voided: new Money(c.voided) }])),
        priceOf,
      });
      for (const draft of drafts) {
        writes.push({
          invoiceId: ids.get(draft.period) ?? null,
          accountId,
          period: draft.period,
          opening: formatMoney(draft.openingBalance),
          credits: formatMoney(draft.creditsTotal),
          expired: formatMoney(draft.expiredTotal),
          voided: formatMoney(draft.voidedTotal),
          usageTotal: formatMoney(draft.usageTotal),
          usageTotalRounded: draft.usageTotalRounded.toFixed(2),
          closing: formatMoney(draft.closingBalance),
          usageSeen: draft.usageSeen ? formatMoney(draft.usageSeen) : null,
          lines: draft.lines.map((line) => ({
            model: line.model,
            tokenClass: line.tokenClass,
            rateCardVersion: line.rateCardVersion,
            unitPrice: formatMoney(line.unitPricePerMillion),
            tokens: line.tokens.toString(),
            amount: formatMoney(line.amount),
            usagePeriod: line.usagePeriod,
          })),
        });
      }
    }
    const created = writes.filter((w) => w.invoiceId === null).length;
    await this.invoices.write(tx, writes);
    return { created, refreshed };
  }

  private requirePeriod(periodId: string): Period {
    const period = parsePeriod(periodId);
    if (!period) throw new BillingException(BillingExceptionCode.VALIDATION, 'period must be a month written YYYY-MM, such as 2026-11.', [{ field: 'period', message: 'not YYYY-MM' }]);
    return period;
  }

  private async require(invoiceId: string, tx: EntityManager): Promise<InvoiceRow> {
    const invoice = await this.invoices.find(invoiceId, tx);
    if (!invoice) throw new BillingException(BillingExceptionCode.NOT_FOUND, `No invoice ${invoiceId}.`);
    return invoice;
  }
}

const toUsageTotals = (row: UsageTotalsRow): PricedUsageTotals => ({
  usagePeriod: row.usage_period,
  model: row.model_id,
  rateCardVersion: row.rate_card_version,
  tokens: { input: BigInt(row.input), cached_input: BigInt(row.cached_input), output: BigInt(row.output) },
  cost: new Money(row.cost),
});

const toBilledTokens = (row: BilledRow): BilledTokens => ({
  usagePeriod: row.usage_period,
  model: row.model_id,
  rateCardVersion: row.rate_card_version,
  tokenClass: row.token_class,
  tokens: BigInt(row.tokens),
});
