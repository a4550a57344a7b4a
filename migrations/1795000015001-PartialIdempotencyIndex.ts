import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createIndexConcurrently } from '../libs/db/src/concurrent-index.js';

/**
 * Idempotency keys are unique per account among the entries that have one (credits and
 * adjustments), so the index holds those only: usage entries (the hot path's, one per account per
 * flush, and nearly all of the ledger) no longer cost an index insert each. Built concurrently
 * beside the old constraint, which is then dropped; a brief lock for that.
 */
export class PartialIdempotencyIndex1795000015001 implements MigrationInterface {
  name = 'PartialIdempotencyIndex1795000015001';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await createIndexConcurrently(q, 'ledger_entries_idempotency', 'ledger_entries (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL', { unique: true });
    await q.query('ALTER TABLE ledger_entries DROP CONSTRAINT IF EXISTS ledger_entries_account_id_idempotency_key_key');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_account_id_idempotency_key_key UNIQUE (account_id, idempotency_key)');
    await q.query('DROP INDEX IF EXISTS ledger_entries_idempotency');
  }
}
