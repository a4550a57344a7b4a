import type { QueryRunner } from 'typeorm';

const PLAIN_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * For a migration with `transaction = false`: builds an index with CREATE INDEX CONCURRENTLY, so
 * writes to a big table (usage_events, ledger_entries, usage_rollups) go on while it builds. A
 * concurrent build that was interrupted leaves the index behind, invalid, and the migration is not
 * recorded: run again, this drops that leftover and builds it anew; a valid index is left alone.
 * `on` is the table and columns, e.g. `usage_events (occurred_at, event_id)`, with a WHERE clause
 * for a partial index.
 *
 * On a partitioned table (usage_events) Postgres builds no index concurrently: the index is made
 * on the parent alone (ON ONLY, invalid until every partition has one), then concurrently on each
 * partition and attached to it, which makes it valid. Partitions made later get it by themselves.
 */
export async function createIndexConcurrently(q: QueryRunner, name: string, on: string, options: { unique?: boolean } = {}): Promise<void> {
  if (!PLAIN_NAME.test(name)) throw new Error(`index name ${JSON.stringify(name)} is not a plain SQL name`);
  // The table, then its columns (and a WHERE clause, for a partial index).
  const match = /^\s*([a-z_][a-z0-9_]*)\s*(\(.*)$/s.exec(on);
  if (!match) throw new Error(`"${on}" is not a table and its columns, such as usage_events (occurred_at, event_id)`);
  const [, table, columns] = match;
  const unique = options.unique ? 'UNIQUE ' : '';
  const [relation]: { kind: string }[] = await q.query(`SELECT relkind AS kind FROM pg_class WHERE oid = to_regclass($1)`, [table]);
  if (relation?.kind !== 'p') return buildConcurrently(q, name, `CREATE ${unique}INDEX CONCURRENTLY ${name} ON ${table} ${columns}`);

  await q.query(`CREATE ${unique}INDEX IF NOT EXISTS ${name} ON ONLY ${table} ${columns}`);
  const partitions: { partition: string; attached: boolean }[] = await q.query(
    `SELECT c.relname AS partition,
       EXISTS (SELECT 1 FROM pg_inherits ii JOIN pg_index x ON x.indexrelid = ii.inhrelid
               WHERE ii.inhparent = to_regclass($2) AND x.indrelid = c.oid) AS attached
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = to_regclass($1) ORDER BY c.relname`,
    [table, name],
  );
  for (const { partition, attached } of partitions) {
    if (attached) continue;
    const child = childIndexName(name, partition);
    await buildConcurrently(q, child, `CREATE ${unique}INDEX CONCURRENTLY ${child} ON ${partition} ${columns}`);
    await q.query(`ALTER INDEX ${name} ATTACH PARTITION ${child}`);
  }
}

async function buildConcurrently(q: QueryRunner, name: string, create: string): Promise<void> {
  const [existing]: { valid: boolean }[] = await q.query(
    `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
     WHERE c.relname = $1 AND c.relnamespace = current_schema()::regnamespace`,
    [name],
  );
  if (existing?.valid) return;
  if (existing) await q.query(`DROP INDEX CONCURRENTLY ${name}`);
  await q.query(create);
}

/** A partition's own index name, within Postgres's 63 characters. */
function childIndexName(index: string, partition: string): string {
  const full = `${partition}_${index}`;
  if (full.length <= 63) return full;
  let hash = 0;
  for (const char of full) hash = (Math.imul(hash, 31) + char.charCodeAt(0)) | 0;
  return `${full.slice(0, 54)}_${(hash >>> 0).toString(16).padStart(8, '0')}`;
}
