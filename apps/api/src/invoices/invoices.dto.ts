import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsString } from 'class-validator';

export class GenerateInvoicesDto {
  @ApiProperty({ example: '2026-11', description: 'UTC calendar month, YYYY-MM' })
  @IsString()
  period: string;
}

export class GenerationResponse {
  @ApiProperty({ example: '2026-11' }) period: string;
  @ApiProperty({ description: 'accounts invoiced for the month: a draft of it already, credits in it, or usage (of it or late) that its invoice carries' }) accounts: number;
  @ApiProperty({ description: 'new draft invoices' }) created: number;
  @ApiProperty({ description: 'drafts of the month rebuilt with the latest usage (the accounts\' other drafts are rebuilt with them)' }) refreshed: number;
}

export class InvoiceLineResponse {
  @ApiProperty({ example: 'qwen3-5-4b' }) model: string;
  @ApiProperty({ enum: ['input', 'cached_input', 'output'] }) token_class: 'input' | 'cached_input' | 'output';
  @ApiProperty({ example: 1 }) rate_card_version: number;
  @ApiProperty({ example: '0.04' }) unit_price_per_million: string;
  @ApiProperty({ example: 1250000 }) tokens: number;
  @ApiProperty({ example: '0.05' }) amount: string;
  @ApiProperty({ description: 'usage of an earlier month whose invoice was already final' }) late: boolean;
  @ApiProperty({ example: '2026-11', description: 'the month the usage belongs to' }) usage_period: string;
}

export class InvoiceResponse {
  @ApiProperty() invoice_id: string;
  @ApiProperty({ example: 'INV-2026-11-000123', description: 'INV-YYYY-MM- then a sequence of at least six digits (more once a month passes 999,999), gapless per month' }) number: string;
  @ApiProperty() account_id: string;
  @ApiProperty() account_name: string;
  @ApiProperty({ example: '2026-11' }) period: string;
  @ApiProperty() period_start: string;
  @ApiProperty({ description: 'exclusive' }) period_end: string;
  @ApiProperty({ enum: ['draft', 'finalized', 'void'] }) status: 'draft' | 'finalized' | 'void';
  @ApiProperty({ example: 'USD' }) currency: 'USD';
  @ApiProperty() opening_balance: string;
  @ApiProperty() credits_total: string;
  @ApiProperty({ description: 'exact sum of the lines' }) usage_total: string;
  @ApiProperty({ example: '12.35', description: 'usage_total rounded once, half-up, to cents' }) usage_total_rounded: string;
  @ApiProperty({ description: 'opening_balance + credits_total - usage_total' }) closing_balance: string;
  @ApiProperty() created_at: string;
  @ApiPropertyOptional({ nullable: true, type: String }) finalized_at: string | null;
  @ApiPropertyOptional({ nullable: true, type: String }) voided_at: string | null;
  @ApiProperty({ type: [InvoiceLineResponse] }) lines: InvoiceLineResponse[];
}


export class InvoicePage {
  @ApiProperty({ type: [InvoiceResponse], description: 'newest first; lines included' }) data: InvoiceResponse[];
  @ApiProperty({ nullable: true, type: String }) next_cursor: string | null;
}
