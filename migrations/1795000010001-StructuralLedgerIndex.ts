import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The entries that are not usage (credits, adjustments, expiries, voids), per account in ledger
 * order: everything the grant fold reads. Partial, so usage entries (the hot path's) are never in
 * it. Built CONCURRENTLY, outside a transaction, so a live ledger keeps taking writes meanwhile.
 */
export class StructuralLedgerIndex1795000010001 implements MigrationInterface {
  name = 'StructuralLedgerIndex1795000010001';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ledger_entries_structural ON ledger_entries (account_id, entry_id) WHERE kind <> 'usage'`);
  }

  // A plain DROP (a brief lock): TypeORM reverts a migration inside a transaction, whatever it declares.
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS ledger_entries_structural');
  }
}
