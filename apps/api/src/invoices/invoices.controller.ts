import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Query, StreamableFile } from '@nestjs/common';
import { ApiOkResponse, ApiProduces, ApiTags } from '@nestjs/swagger';
import { AccountReadable, AdminOnly, Authenticated, CurrentPrincipal, type Principal } from '../auth/auth.decorators.js';
import { PageQuery } from '../common/pagination.js';
import { GenerateInvoicesDto, GenerationResponse, InvoicePage, InvoiceResponse } from './invoices.dto.js';
import { InvoicesService } from './invoices.service.js';

@ApiTags('invoices')
@Controller('v1')
export class InvoicesController {
  constructor(private readonly invoices: InvoicesService) {}

  @Post('invoices/generate')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: GenerationResponse })
  generate(@Body() dto: GenerateInvoicesDto) {
    return this.invoices.generate(dto.period);
  }

  @Get('accounts/:id/invoices')
  @AccountReadable()
  @ApiOkResponse({ type: InvoicePage })
  list(@Param('id') id: string, @Query() query: PageQuery) {
    return this.invoices.listForAccount(id, query);
  }

  @Get('invoices/:invoice_id')
  @Authenticated()
  @ApiOkResponse({ type: InvoiceResponse })
  get(@CurrentPrincipal() principal: Principal, @Param('invoice_id') invoiceId: string) {
    return this.invoices.get(principal, invoiceId);
  }

  @Get('invoices/:invoice_id/pdf')
  @Authenticated()
  @ApiProduces('application/pdf')
  @ApiOkResponse({ description: 'the invoice as a PDF document' })
  async pdf(@CurrentPrincipal() principal: Principal, @Param('invoice_id') invoiceId: string) {
    const { number, pdf } = await this.invoices.pdf(principal, invoiceId);
    return new StreamableFile(pdf, { type: 'application/pdf', disposition: `inline; filename="${number}.pdf"`, length: pdf.length });
  }

  @Post('invoices/:invoice_id/finalize')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: InvoiceResponse })
  finalize(@Param('invoice_id') invoiceId: string) {
    return this.invoices.finalize(invoiceId);
  }

  @Post('invoices/:invoice_id/void')
  @AdminOnly()
  @HttpCode(HttpStatus.OK)
  @ApiOkResponse({ type: InvoiceResponse })
  void(@Param('invoice_id') invoiceId: string) {
    return this.invoices.void(invoiceId);
  }
}
