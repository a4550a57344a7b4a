import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Two indexes that no query reads (docs/indexes.md lists what reads each one that stays), and
 * that every write to their tables paid for:
 * - holds_account_expiry served the first authorize_holds's sum over an account's holds; since
 *   ActiveHolds that sum reads active_holds, and the other reads of holds by expiry compare with
 *   the clock over all accounts, which this index does not serve. Each authorization wrote it.
 * - webhook_events_account: the outbox is read in seq order (fan-out) and by event id; nothing
 *   looks an account's events up. Each balance, grant, invoice and hold event wrote it.
 * Dropped concurrently, so neither table is locked against writes meanwhile.
 * The way down builds them again.
 */
export class DropUnusedIndexes1795000016001 implements MigrationInterface {
  name = 'DropUnusedIndexes1795000016001';
  transaction = false;

  async up(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS holds_account_expiry');
    await q.query('DROP INDEX CONCURRENTLY IF EXISTS webhook_events_account');
  }

  async down(q: QueryRunner): Promise<void> {
    // Plainly: TypeORM runs a revert inside a transaction whatever the migration says.
    await q.query('CREATE INDEX IF NOT EXISTS holds_account_expiry ON holds (account_id, expires_at)');
    await q.query('CREATE INDEX IF NOT EXISTS webhook_events_account ON webhook_events (account_id, seq)');
  }
}
