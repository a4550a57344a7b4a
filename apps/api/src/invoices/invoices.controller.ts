import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { AccountReadable, AdminOnly, Authenticated, CurrentPrincipal, type Principal } from '../auth/auth.decorators.js';
import { PageQuery } from '../common/pagination.js';
import { ApiProblem } from '../docs/problems.js';
import { GenerateInvoicesDto, GenerationResponse, InvoicePage, InvoiceResponse } from './invoices.dto.js';
import { InvoicesService } from './invoices.service.js';

const noInvoice = ApiProblem(404, 'no such invoice (an account key gets 403 instead: it may not learn which ids exist)', {
  detail: 'No invoice 7f7c1a52-3c1e-4c55-9f0e-0d4b5e7a9c11.',
});

@ApiTags('invoices')
@Controller('v1')
export class InvoicesController {
  constructor(private readonly invoices: InvoicesService) {}

  @Post('invoices/generate')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: GenerationResponse, description: 'drafts made or refreshed; finalized invoices are never touched' })
  @ApiProblem(400, 'period is missing or not a string', { errors: [{ field: 'period', message: 'period must be a string' }] })
  @ApiProblem(422, 'period is not a month written YYYY-MM, or the month has not started yet', {
    slug: 'validation',
    detail: 'period must be a month written YYYY-MM, such as 2026-11.',
    errors: [{ field: 'period', message: 'not YYYY-MM' }],
  })
  generate(@Body() dto: GenerateInvoicesDto) {
    return this.invoices.generate(dto.period);
  }

  @Get('accounts/:id/invoices')
  @AccountReadable()
  @ApiOkResponse({ type: InvoicePage })
  @ApiProblem(400, 'limit or cursor is not valid', { errors: [{ field: 'cursor', message: 'invalid cursor' }] })
  @ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' })
  list(@Param('id') id: string, @Query() query: PageQuery) {
    return this.invoices.listForAccount(id, query);
  }

  @Get('invoices/:invoice_id')
  @Authenticated()
  @ApiOkResponse({ type: InvoiceResponse })
  @noInvoice
  get(@CurrentPrincipal() principal: Principal, @Param('invoice_id') invoiceId: string) {
    return this.invoices.get(principal, invoiceId);
  }

  @Get('invoices/:invoice_id/pdf')
  @Authenticated()
  @ApiProduces('application/pdf')
  @ApiOkResponse({ description: 'the invoice as a PDF document (A4)', schema: { type: 'string', format: 'binary' } })
  @noInvoice
  async pdf(@CurrentPrincipal() principal: Principal, @Param('invoice_id') invoiceId: string) {
    const { number, pdf } = await this.invoices.pdf(principal, invoiceId);
    return new StreamableFile(pdf, { type: 'application/pdf', disposition: `inline; filename="${number}.pdf"`, length: pdf.length });
  }

  @Post('invoices/:invoice_id/finalize')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: InvoiceResponse, description: 'finalized (or already final): it never changes again' })
  @noInvoice
  @ApiProblem(409, 'the invoice is void, its month is not over, or the month before is not final yet', {
    detail: 'Finalize INV-2026-10-000122 first: this invoice opens where it closes.',
  })
  finalize(@Param('invoice_id') invoiceId: string) {
    return this.invoices.finalize(invoiceId);
  }

  @Post('invoices/:invoice_id/void')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: InvoiceResponse, description: 'void (or already void); the month can be invoiced again' })
  @noInvoice
  @ApiProblem(409, 'the invoice is a draft: only a finalized invoice can be voided', {
    detail: 'Invoice INV-2026-11-000123 is a draft: only a finalized invoice can be voided.',
  })
  void(@Param('invoice_id') invoiceId: string) {
    return this.invoices.void(invoiceId);
  }
}
