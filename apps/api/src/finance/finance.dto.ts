import { ApiProperty } from '@nestjs/swagger';
import { IsString } from 'class-validator';
import { type ExportKind, GRANT_ALLOCATION_COLUMNS, exportColumns } from '@app/db';

/** An export's header row and one example row, as the route streams them (RFC 4180: CRLF). */
const csvExample = (kind: ExportKind, row: Record<string, string>): string => {
  const columns = exportColumns(kind);
  return `${columns.join(',')}\r\n${columns.map((column) => row[column] ?? '').join(',')}\r\n`;
};

export const GRANT_ALLOCATIONS_CSV = `${GRANT_ALLOCATION_COLUMNS.join(',')}\r\n1043,acme-corp,2026-11-24T10:00:00.412Z,usage,gr_1001,promotional,false,0.00004\r\n1043,acme-corp,2026-11-24T10:00:00.412Z,usage,gr_1000,purchase,true,0.00001202\r\n`;

export const USAGE_CSV = csvExample('usage', {
  event_id: 'req_01HZX3',
  account_id: 'acme-corp',
  occurred_at: '2026-11-24T10:00:00.000Z',
  model: 'qwen3-5-4b',
  endpoint: '/v1/chat/completions',
  rate_card_version: '1',
  input_tokens: '176',
  cached_input_tokens: '1024',
  output_tokens: '350',
  cache_reported: 'true',
  cost: '0.00005202',
  ledger_entry_id: '1043',
  received_at: '2026-11-24T10:00:00.412Z',
});

export const LEDGER_CSV = csvExample('ledger', {
  entry_id: '1043',
  account_id: 'acme-corp',
  kind: 'usage',
  amount: '-0.00005202',
  balance_after: '24.99994798',
  created_at: '2026-11-24T10:00:00.412Z',
  event_count: '1',
});

export const INVOICES_CSV = csvExample('invoices', {
  invoice_number: 'INV-2026-11-000123',
  invoice_id: '7f7c1a52-3c1e-4c55-9f0e-0d4b5e7a9c11',
  account_id: 'acme-corp',
  account_name: 'Acme Corp',
  period: '2026-11',
  status: 'finalized',
  line_no: '1',
  model: 'qwen3-5-4b',
  token_class: 'input',
  rate_card_version: '1',
  unit_price_per_million: '0.04',
  tokens: '1250000',
  amount: '0.05',
  usage_period: '2026-11',
  late: 'false',
  usage_total: '0.05',
  usage_total_rounded: '0.05',
  opening_balance: '25',
  credits_total: '0',
  expired_total: '0',
  voided_total: '0',
  closing_balance: '24.95',
});

export class PeriodQuery {
  @ApiProperty({ example: '2026-11' })
  @IsString()
  period: string;
}

export class CheckResponse {
  @ApiProperty({ example: 'balances_match_ledger' }) name: string;
  @ApiProperty({ example: "every stored balance equals the sum of its account's ledger entries (all time)" }) description: string;
  @ApiProperty({ example: true }) ok: boolean;
  @ApiProperty({ example: '1234.5' }) expected: string;
  @ApiProperty({ example: '1234.5' }) actual: string;
}

export class DiscrepancyResponse {
  @ApiProperty({ example: 'balances_match_ledger' }) check: string;
  @ApiProperty({ enum: ['account', 'ledger_entry', 'event', 'usage', 'rollup', 'invoice', 'hold', 'grant', 'liability_row'], example: 'account' }) subject: string;
  @ApiProperty({ example: 'acme' }) id: string;
  @ApiProperty({ example: '24.95' }) expected: string;
  @ApiProperty({ example: '24.94' }) actual: string;
}

export class ReconciliationResponse {
  @ApiProperty({ example: true }) ok: boolean;
  @ApiProperty({ nullable: true, type: String, example: '2026-11-01T00:00:00.000Z' }) from: string | null;
  @ApiProperty({ nullable: true, type: String, example: '2026-12-01T00:00:00.000Z' }) to: string | null;
  @ApiProperty({ type: [CheckResponse] }) checks: CheckResponse[];
  @ApiProperty({ type: [DiscrepancyResponse] }) discrepancies: DiscrepancyResponse[];
  @ApiProperty({ example: false, description: 'more discrepancies exist than are listed (1000 at most)' }) truncated: boolean;
}
