import { Inject, Injectable } from '@nestjs/common';
import { Money, formatMoney, parsePeriod } from '@app/billing';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { AccountsRepository, InvoicesRepository, InvoicingService, type InvoiceLineRow, type InvoiceRow } from '@app/db';
import type { Principal } from '../auth/auth.decorators.js';
import { type Page, type PageQuery, decodeCursor, toPage } from '../common/pagination.js';
import { forbidden, notFound } from '../common/problem.js';
import type { GenerationResponse, InvoiceResponse } from './invoices.dto.js';
import type { Seller } from './invoice-pdf.js';

const money = (value: string) => formatMoney(new Money(value));

/** The seller block of invoice PDFs, from INVOICE_SELLER_*; null when no seller is configured. */
export function sellerOf(config: AppConfig): Seller | null {
  if (config.INVOICE_SELLER_NAME === undefined) return null;
  return {
    name: config.INVOICE_SELLER_NAME,
    address: config.INVOICE_SELLER_ADDRESS ?? [],
    taxId: config.INVOICE_SELLER_TAX_ID,
    email: config.INVOICE_SELLER_EMAIL,
  };
}

@Injectable()
export class InvoicesService {
  private readonly seller: Seller | null;

  constructor(
    private readonly invoicing: InvoicingService,
    private readonly invoices: InvoicesRepository,
    private readonly accounts: AccountsRepository,
    @Inject(APP_CONFIG) config: AppConfig,
  ) {
    this.seller = sellerOf(config);
  }

  generate(period: string): Promise<GenerationResponse> {
    return this.invoicing.generate(period);
  }

  async get(principal: Principal, invoiceId: string): Promise<InvoiceResponse> {
    return this.toResponse(await this.visible(principal, invoiceId));
  }

  /** Invoices as the API shows them, with all their lines read in one query. */
  private async toResponses(rows: InvoiceRow[]): Promise<InvoiceResponse[]> {
    const lines = await this.invoices.linesOf(rows.map((row) => row.invoice_id));
    return rows.map((row) => toInvoiceResponse(row, lines.get(row.invoice_id)!));
  }

  private async toResponse(row: InvoiceRow): Promise<InvoiceResponse> {
    return (await this.toResponses([row]))[0];
  }

  async pdf(principal: Principal, invoiceId: string): Promise<{ number: string; pdf: Buffer }> {
    const invoice = await this.get(principal, invoiceId);
    // Loaded at the first PDF, not at start: pdfkit, fontkit and their decoders are about 5 MB of
    // the API's memory that nothing else uses (the export row's peak RSS is measured).
    const { renderInvoicePdf } = await import('./invoice-pdf.js');
    return { number: invoice.number, pdf: await renderInvoicePdf({ ...invoice, issued_at: invoice.finalized_at }, this.seller) };
  }

  async listForAccount(accountId: string, query: PageQuery): Promise<Page<InvoiceResponse>> {
    const before = decodeCursor(query.cursor, /^INV-\d{4}-\d{2}-\d{6,}$/);
    if (!(await this.accounts.exists(accountId))) throw notFound(`No account ${accountId}.`);
    const rows = await this.invoices.listForAccount(accountId, { before, limit: query.limit + 1 });
    const page = toPage(rows, query.limit, (row) => row, (row) => row.number);
    return { data: await this.toResponses(page.data), next_cursor: page.next_cursor };
  }

  async finalize(invoiceId: string): Promise<InvoiceResponse> {
    return this.toResponse(await this.invoicing.finalize(invoiceId));
  }

  async void(invoiceId: string): Promise<InvoiceResponse> {
    return this.toResponse(await this.invoicing.void(invoiceId));
  }

  /** An account key sees its own account's invoices only. */
  private async visible(principal: Principal, invoiceId: string): Promise<InvoiceRow> {
    const invoice = await this.invoices.find(invoiceId);
    if (!invoice) {
      if (principal.role === 'account') throw forbidden();
      throw notFound(`No invoice ${invoiceId}.`);
    }
    if (principal.role === 'account' && principal.accountId !== invoice.account_id) {
      throw forbidden();
    }
    return invoice;
  }
}

function toInvoiceResponse(row: InvoiceRow, lines: InvoiceLineRow[]): InvoiceResponse {
  const period = parsePeriod(row.period)!;
  return {
    invoice_id: row.invoice_id,
    number: row.number,
    account_id: row.account_id,
    account_name: row.account_name,
    period: row.period,
    period_start: period.start.toISOString(),
    period_end: period.end.toISOString(),
    status: row.status,
    currency: 'USD',
    opening_balance: money(row.opening_balance),
    credits_total: money(row.credits_total),
    usage_total: money(row.usage_total),
    usage_total_rounded: new Money(row.usage_total_rounded).toFixed(2),
    closing_balance: money(row.closing_balance),
    expired_total: money(row.expired_total),
    voided_total: money(row.voided_total),
    created_at: row.created_at.toISOString(),
    finalized_at: row.finalized_at?.toISOString() ?? null,
    voided_at: row.voided_at?.toISOString() ?? null,
    lines: lines.map((line: InvoiceLineRow) => ({
      model: line.model_id,
      token_class: line.token_class,
      rate_card_version: line.rate_card_version,
      unit_price_per_million: money(line.unit_price_per_million),
      tokens: Number(line.tokens),
      amount: money(line.amount),
      late: line.usage_period !== row.period,
      usage_period: line.usage_period,
    })),
  };
}
