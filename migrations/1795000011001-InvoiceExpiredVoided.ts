import type { MigrationInterface, QueryRunner } from 'typeorm';

/** What a finalized invoice keeps unchanged (it may only become void). */
const FROZEN = ['invoice_id', 'number', 'account_id', 'period', 'currency', 'opening_balance', 'credits_total', 'usage_total', 'usage_total_rounded', 'closing_balance', 'created_at', 'finalized_at', 'usage_seen'];
const row = (columns: string[], alias: string) => columns.map((column) => `${alias}.${column}`).join(', ');

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
 * Credit grants can expire or be voided: an invoice now shows what was removed that way in its
 * month as amounts of their own, apart from credits_total (credits and adjustments, as before),
 * and its identity becomes opening + credits - usage - expired - voided = closing. Invoices made
 * before have 0 for both, which is what they were (nothing expired before grants existed), so no
 * finalized invoice changes meaning. Both are frozen with the rest once finalized.
 */
export class InvoiceExpiredVoided1795000011001 implements MigrationInterface {
  name = 'InvoiceExpiredVoided1795000011001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE invoices ADD COLUMN expired_total numeric(38,18) NOT NULL DEFAULT 0 CHECK (expired_total >= 0),
        ADD COLUMN voided_total numeric(38,18) NOT NULL DEFAULT 0 CHECK (voided_total >= 0);
      ALTER TABLE invoices DROP CONSTRAINT invoices_check;
      ALTER TABLE invoices ADD CONSTRAINT invoices_identity
        CHECK (opening_balance + credits_total - usage_total - expired_total - voided_total = closing_balance);
    `);
    await q.query(guard([...FROZEN, 'expired_total', 'voided_total']));
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(guard(FROZEN));
    await q.query(`
      ALTER TABLE invoices DROP CONSTRAINT invoices_identity;
      ALTER TABLE invoices ADD CONSTRAINT invoices_check CHECK (opening_balance + credits_total - usage_total = closing_balance);
      ALTER TABLE invoices DROP COLUMN expired_total, DROP COLUMN voided_total;
    `);
  }
}
