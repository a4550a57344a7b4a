import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString } from 'class-validator';

export class GenerateInvoicesDto {
  @ApiProperty({ example: '2026-11', description: 'UTC calendar month, YYYY-MM' })
  @IsString()
  period: string;
}

export class GenerationResponse {
  @ApiProperty({ example: '2026-11' }) period: string;
  @ApiProperty({ example: 1000, description: 'accounts invoiced for the month: a draft of it already, credits in it, or usage (of it or late) that its invoice carries' }) accounts: number;
  @ApiProperty({ example: 12, description: 'new draft invoices' }) created: number;
  @ApiProperty({ example: 988, description: 'drafts of the month rebuilt with the latest usage (the accounts\' other drafts are rebuilt with them)' }) refreshed: number;
}

export class InvoiceLineResponse {
  @ApiProperty({ example: 'qwen3-5-4b' }) model: string;
  @ApiProperty({ enum: ['input', 'cached_input', 'output'], example: 'input' }) token_class: 'input' | 'cached_input' | 'output';
  @ApiProperty({ example: 1 }) rate_card_version: number;
  @ApiProperty({ example: '0.04' }) unit_price_per_million: string;
  @ApiProperty({ example: 1250000 }) tokens: number;
  @ApiProperty({ example: '0.05' }) amount: string;
  @ApiProperty({ example: false, description: 'usage of an earlier month whose invoice was already final' }) late: boolean;
  @ApiProperty({ example: '2026-11', description: 'the month the usage belongs to' }) usage_period: string;
}

export class InvoiceResponse {
  @ApiProperty({ example: '7f7c1a52-3c1e-4c55-9f0e-0d4b5e7a9c11' }) invoice_id: string;
  @ApiProperty({ example: 'INV-2026-11-000123', description: 'INV-YYYY-MM- then a sequence of at least six digits (more once a month passes 999,999), gapless per month' }) number: string;
  @ApiProperty({ example: 'acme-corp' }) account_id: string;
  @ApiProperty({ example: 'Acme Corp' }) account_name: string;
  @ApiProperty({ example: '2026-11' }) period: string;
  @ApiProperty({ example: '2026-11-01T00:00:00.000Z' }) period_start: string;
  @ApiProperty({ example: '2026-12-01T00:00:00.000Z', description: 'exclusive' }) period_end: string;
  @ApiProperty({ enum: ['draft', 'finalized', 'void'], example: 'finalized' }) status: 'draft' | 'finalized' | 'void';
  @ApiProperty({ example: 'USD' }) currency: 'USD';
  @ApiProperty({ example: '25' }) opening_balance: string;
  @ApiProperty({ example: '0' }) credits_total: string;
  @ApiProperty({ example: '0.05', description: 'exact sum of the lines' }) usage_total: string;
  @ApiProperty({ example: '0.05', description: 'usage_total rounded once, half-up, to cents' }) usage_total_rounded: string;
  @ApiProperty({ example: '24.95', description: 'opening_balance + credits_total - usage_total - expired_total - voided_total' }) closing_balance: string;
  @ApiProperty({ example: '0', description: 'what was left on credit grants that expired in the month' }) expired_total: string;
  @ApiProperty({ example: '0', description: 'what was left on credit grants voided in the month' }) voided_total: string;
  @ApiProperty({ example: '2026-12-01T00:05:00.000Z' }) created_at: string;
  @ApiPropertyOptional({ nullable: true, type: String, example: '2026-12-02T09:00:00.000Z' }) finalized_at: string | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: null }) voided_at: string | null;
  @ApiProperty({ type: [InvoiceLineResponse] }) lines: InvoiceLineResponse[];
}


export class InvoicePage {
  @ApiProperty({ type: [InvoiceResponse], description: 'newest first; lines included' }) data: InvoiceResponse[];
  @ApiProperty({ nullable: true, type: String, example: null, description: 'pass as cursor for the next page; null on the last' }) next_cursor: string | null;
}
