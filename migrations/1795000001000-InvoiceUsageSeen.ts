import type { MigrationInterface, QueryRunner } from 'typeorm';

/** What a finalized invoice keeps unchanged (it may only become void). */
const FROZEN = ['invoice_id', 'number', 'account_id', 'period', 'currency', 'opening_balance', 'credits_total', 'usage_total', 'usage_total_rounded', 'closing_balance', 'created_at', 'finalized_at'];
const row = (columns: string[], alias: string) => columns.map((column) => `${alias}.${column}`).join(', ');

/** The invoices' trigger function (1795000000002-Invoices), freezing `frozen`. */
const guard = (frozen: string[]) => `
  CREATE OR REPLACE FUNCTION invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    IF TG_OP = 'DELETE' THEN
      RAISE EXCEPTION 'invoices are never deleted' USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status = 'void' THEN
      RAISE EXCEPTION 'invoice % is void and immutable', OLD.number USING ERRCODE = 'restrict_violation';
    END IF;
    IF OLD.status = 'finalized' AND (
         NEW.status <> 'void'
         OR (${row(frozen, 'NEW')}) IS DISTINCT FROM (${row(frozen, 'OLD')})) THEN
      RAISE EXCEPTION 'invoice % is finalized and immutable', OLD.number USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
  END $$`;

/**
 * usage_seen: when an invoice at the open end of its account's chain is built, the cost of all the
 * account's usage of its month and earlier priced by then. The live invoices up to it bill exactly
 * that, which reconciliation checks (usage left off every invoice shows there). Null for invoices
 * built before this migration, and for a draft that a later finalized invoice keeps from carrying
 * usage. Part of what a finalized invoice freezes.
 */
export class InvoiceUsageSeen1795000001000 implements MigrationInterface {
  name = 'InvoiceUsageSeen1795000001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE invoices ADD COLUMN usage_seen numeric(38,18)');
    await q.query(guard([...FROZEN, 'usage_seen']));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(guard(FROZEN));
    await q.query('ALTER TABLE invoices DROP COLUMN usage_seen');
  }
}
