import type { DataSource, MigrationInterface } from 'typeorm';
import { whenPostgresAnswers } from './connect.js';
import { ensureDatabase } from './database.js';
import { createDataSource } from './data-source.js';

/** Any number of processes may run this at once; the lock makes them take turns. */
const MIGRATION_LOCK = 7_000_001;
const LOCK_POLL_MS = 200;

export interface MigrateResult {
  createdDatabase: boolean;
  applied: string[];
}

export interface MigrateOptions {
  /** Told about each wait for a Postgres that does not answer yet (it is waited for, with backoff). */
  onWait?: (message: string) => void;
  /** The migrations to apply; the shipped ones unless a test says otherwise. */
  migrations?: (new () => MigrationInterface)[];
}

/**
 * Creates the database if needed and applies every pending migration, each in a transaction of
 * its own, except a migration that sets `transaction = false` (to build an index CONCURRENTLY):
 * that one runs statement by statement. Safe to run again, and from several processes at once.
 */
export async function migrate(url: string, { onWait = () => undefined, migrations }: MigrateOptions = {}): Promise<MigrateResult> {
  const createdDatabase = await whenPostgresAnswers(() => ensureDatabase(url), { onWait });
  const applied = await underLock(url, migrations, (dataSource) => dataSource.runMigrations({ transaction: 'each' }));
  return { createdDatabase, applied: applied.map((m) => m.name) };
}

/**
 * Undoes the last applied migration (tests and emergencies): in a transaction, unless that
 * migration sets `transaction = false`, whose down() runs outside one as its up() did.
 * Returns its name, or null when none was applied.
 */
export function revertLastMigration(url: string, { migrations }: Pick<MigrateOptions, 'migrations'> = {}): Promise<string | null> {
  return underLock(url, migrations, async (dataSource) => {
    const [last]: { name: string }[] = await dataSource.query('SELECT name FROM typeorm_migrations ORDER BY id DESC LIMIT 1').catch(() => []);
    if (!last) return null;
    const migration = dataSource.migrations.find((m) => m.name === last.name);
    await dataSource.undoLastMigration({ transaction: migration?.transaction === false ? 'none' : 'each' });
    return last.name;
  });
}

/** What the schema of the database lacks and what it has that this code does not know, by migration name. */
export async function schemaDrift(db: DataSource): Promise<{ pending: string[]; unknown: string[] }> {
  let applied: string[] = [];
  try {
    applied = (await db.query('SELECT name FROM typeorm_migrations')).map((row: { name: string }) => row.name);
  } catch (error) {
    if ((error as { driverError?: { code?: string } }).driverError?.code !== '42P01') throw error; // no migrations table: none applied
  }
  const known = db.migrations.map((m) => m.name ?? m.constructor.name);
  return { pending: known.filter((name) => !applied.includes(name)), unknown: applied.filter((name) => !known.includes(name)) };
}

async function underLock<T>(url: string, migrations: MigrateOptions['migrations'], work: (dataSource: ReturnType<typeof createDataSource>) => Promise<T>): Promise<T> {
  const dataSource = createDataSource({ url, poolSize: 2, applicationName: 'billing-migrate', migrations });
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    // Polled rather than waited for: a session blocked in pg_advisory_lock() holds a snapshot, and
    // CREATE INDEX CONCURRENTLY in the runner holding the lock waits for every older snapshot to go,
    // so the two would wait for each other for ever. Between polls this session holds none.
    while (!(await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [MIGRATION_LOCK]))[0].locked) {
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
    return await work(dataSource);
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
    await dataSource.destroy();
  }
}
