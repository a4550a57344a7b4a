import { describe, expect, it } from '@jest/globals';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import { DataSource } from 'typeorm';
import { createIndexConcurrently, migrate, revertLastMigration } from '../libs/db/src/index.js';
import { migrations } from '../migrations/index.js';
import { scratchDatabase } from './support/scratch.js';

/** How a migration adds an index to a big table: outside a transaction, without blocking writes. */
class ProbeIndex1795000002001 implements MigrationInterface {
  name = 'ProbeIndex1795000002001';
  transaction = false as const;

  async up(q: QueryRunner): Promise<void> {
    // Time for a second runner to start waiting for the migration lock before the build begins.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await createIndexConcurrently(q, 'usage_events_probe', 'usage_events (account_id, received_at)');
  }

  // Dropping the partitioned index drops every partition's (Postgres drops no partitioned index concurrently).
  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX IF EXISTS usage_events_probe');
  }
}

const withProbe = [...migrations, ProbeIndex1795000002001];

async function indexState(db: DataSource, name: string): Promise<{ valid: boolean } | undefined> {
  const [row] = await db.query(
    'SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = $1',
    [name],
  );
  return row;
}

async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('the migration runner', () => {
  it('runs a migration with transaction = false outside a transaction, so CREATE INDEX CONCURRENTLY works, even with a second runner waiting', async () => {
    const scratch = await scratchDatabase();
    const db = await new DataSource({ type: 'postgres', url: scratch.url }).initialize();
    try {
      // The runner waiting for the lock must hold no snapshot: CONCURRENTLY waits for every older one.
      const runs = await within(20_000, 'two concurrent migrate() runs', Promise.all([migrate(scratch.url, { migrations: withProbe }), migrate(scratch.url, { migrations: withProbe })]));
      expect(runs.map((r) => r.applied).sort()).toEqual([[], ['ProbeIndex1795000002001']]);
      expect(await indexState(db, 'usage_events_probe')).toEqual({ valid: true });
      // usage_events is partitioned: every month has the index, and a month made later gets it too.
      await db.query(`SELECT ensure_usage_event_partitions('2031-01-01', '2031-02-01')`);
      const parts = await db.query(
        `SELECT count(*)::int AS partitions, count(x.indexrelid)::int AS indexed FROM pg_inherits i
         LEFT JOIN pg_index x ON x.indrelid = i.inhrelid AND pg_get_indexdef(x.indexrelid) LIKE '%(account_id, received_at)%'
         WHERE i.inhparent = 'usage_events'::regclass`,
      );
      expect(parts[0].indexed).toBe(parts[0].partitions);
      expect(parts[0].partitions).toBeGreaterThan(12);

      expect(await revertLastMigration(scratch.url, { migrations: withProbe })).toBe('ProbeIndex1795000002001');
      expect(await indexState(db, 'usage_events_probe')).toBeUndefined();
      const [{ n }] = await db.query("SELECT count(*)::int AS n FROM typeorm_migrations WHERE name = 'ProbeIndex1795000002001'");
      expect(n).toBe(0);
    } finally {
      await db.destroy();
      await scratch.drop();
    }
  });

  it('builds the index again when an interrupted build left it invalid', async () => {
    const scratch = await scratchDatabase();
    const db = await new DataSource({ type: 'postgres', url: scratch.url }).initialize();
    try {
      await db.query('CREATE TABLE probe (x int)');
      await db.query('INSERT INTO probe VALUES (1), (1)');
      // A unique build over duplicates fails half way and leaves the index behind, invalid.
      await expect(db.query('CREATE UNIQUE INDEX CONCURRENTLY probe_x ON probe (x)')).rejects.toThrow(/could not create unique index/);
      expect(await indexState(db, 'probe_x')).toEqual({ valid: false });
      await db.query('DELETE FROM probe');
      const runner = db.createQueryRunner();
      try {
        await createIndexConcurrently(runner, 'probe_x', 'probe (x)', { unique: true });
        await createIndexConcurrently(runner, 'probe_x', 'probe (x)', { unique: true }); // again: nothing to do
      } finally {
        await runner.release();
      }
      expect(await indexState(db, 'probe_x')).toEqual({ valid: true });
    } finally {
      await db.destroy();
      await scratch.drop();
    }
  });
});
