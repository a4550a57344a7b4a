import type { QueryRunner } from 'typeorm';

/**
 * For a migration with `transaction = false`: builds an index with CREATE INDEX CONCURRENTLY, so
 * writes to a big table (usage_events, ledger_entries, usage_rollups) go on while it builds. A
 * concurrent build that was interrupted leaves the index behind, invalid, and the migration is not
 * recorded: run again, this drops that leftover and builds it anew; a valid index is left alone.
 * `on` is the table and columns, e.g. `usage_events (occurred_at, event_id)`.
 */
export async function createIndexConcurrently(q: QueryRunner, name: string, on: string, options: { unique?: boolean } = {}): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`index name ${JSON.stringify(name)} is not a plain SQL name`);
  const [existing]: { valid: boolean }[] = await q.query(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [name],
  );
  if (existing?.valid) return;
  if (existing) await q.query(`DROP INDEX CONCURRENTLY ${name}`);
  await q.query(`CREATE ${options.unique ? 'UNIQUE ' : ''}INDEX CONCURRENTLY ${name} ON ${on}`);
}
