import { Injectable, Logger } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import {
  BillingException,
  BillingExceptionCode,
  Money,
  buildInvoice,
  formatMoney,
  parsePeriod,
  periodOf,
  unbilledUsage,
  type BilledTokens,
  type Period,
  type UsageTotals,
} from '@app/billing';
import { PricingContextCache } from './pricing-context.cache.js';
import { InvoicesRepository, type GenerationInputs, type InvoiceRow, type InvoiceWrite } from './repositories/invoices.repository.js';

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
 * finalized invoice, and puts usage that arrived after a month was finalized on the next open one.
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
      const { created, refreshed } = await this.invoices.locked((tx) => this.buildChunk(tx, period, chunk));
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
      await this.buildChunk(tx, period, [invoice.account_id]);
      await this.invoices.setStatus(tx, invoiceId, 'finalized');
      return (await this.invoices.find(invoiceId, tx))!;
    });
  }

  /** A finalized invoice can be voided (and its month invoiced again); a draft cannot. */
  void(invoiceId: string): Promise<InvoiceRow> {
    return this.invoices.locked(async (tx) => {
      const invoice = await this.require(invoiceId, tx);
      if (invoice.status === 'void') return invoice;
      if (invoice.status === 'draft') {
        throw new BillingException(BillingExceptionCode.CONFLICT, `Invoice ${invoice.number} is a draft: only a finalized invoice can be voided.`);
      }
      await this.invoices.setStatus(tx, invoiceId, 'void');
      return (await this.invoices.find(invoiceId, tx))!;
    });
  }

  /** The month a scheduled run invoices: the one before the month of `now`. */
  static previousMonth(now: Date): string {
    return periodOf(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1) - 1)).id;
  }

  private async buildChunk(tx: EntityManager, period: Period, accounts: string[]) {
    const [inputs, pricing] = await Promise.all([this.invoices.inputs(tx, period.id, accounts), this.pricing.get()]);
    const cards = new Map(pricing.rateCards.map((card) => [card.version, card]));
    const priceOf = (version: number, model: string) => cards.get(version)?.prices[model];
    const usageBy = byAccount(inputs.usage);
    const billedBy = byAccount(inputs.billed);
    const writes: InvoiceWrite[] = [];
    for (const accountId of accounts) {
      const existing = inputs.existing.get(accountId);
      if (existing?.status === 'finalized') continue;
      const openingBalance = new Money(inputs.opening.get(accountId) ?? '0');
      const creditsTotal = new Money(inputs.credits.get(accountId) ?? '0');
      const built = buildInvoice({
        period: period.id,
        openingBalance,
        creditsTotal,
        usage: unbilledFor(usageBy.get(accountId) ?? [], billedBy.get(accountId) ?? []),
        priceOf,
      });
      writes.push({
        invoiceId: existing?.invoice_id ?? null,
        accountId,
        opening: formatMoney(openingBalance),
        credits: formatMoney(creditsTotal),
        usageTotal: formatMoney(built.usageTotal),
        usageTotalRounded: built.usageTotalRounded.toFixed(2),
        closing: formatMoney(built.closingBalance),
        lines: built.lines.map((line) => ({
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
    await this.invoices.write(tx, period.id, writes);
    const created = writes.filter((w) => !inputs.existing.has(w.accountId)).length;
    return { created, refreshed: writes.length - created };
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

/** Rows grouped by account, once per chunk. */
function byAccount<T extends { account_id: string }>(rows: T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.account_id);
    if (group) group.push(row);
    else groups.set(row.account_id, [row]);
  }
  return groups;
}

/** An account's usage to bill: its month in full, and what earlier finalized months still owe. */
function unbilledFor(usageRows: GenerationInputs['usage'], billedRows: GenerationInputs['billed']): UsageTotals[] {
  const usage: UsageTotals[] = usageRows.map((row) => ({
    usagePeriod: row.usage_period,
    model: row.model_id,
    rateCardVersion: row.rate_card_version,
    tokens: { input: BigInt(row.input), cached_input: BigInt(row.cached_input), output: BigInt(row.output) },
  }));
  const billed: BilledTokens[] = billedRows.map((row) => ({
    usagePeriod: row.usage_period,
    model: row.model_id,
    rateCardVersion: row.rate_card_version,
    tokenClass: row.token_class,
    tokens: BigInt(row.tokens),
  }));
  return unbilledUsage(usage, billed);
}
