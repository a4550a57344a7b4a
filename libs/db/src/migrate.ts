import { whenPostgresAnswers } from './connect.js';
import { ensureDatabase } from './database.js';
import { createDataSource } from './data-source.js';

/** Any number of processes may run this at once; the lock makes them take turns. */
const MIGRATION_LOCK = 7_000_001;

export interface MigrateResult {
  createdDatabase: boolean;
  applied: string[];
}

export interface MigrateOptions {
  /** Told about each wait for a Postgres that does not answer yet (it is waited for, with backoff). */
  onWait?: (message: string) => void;
}

/** Creates the database if needed and applies every pending migration. Safe to run again. */
export async function migrate(url: string, { onWait = () => undefined }: MigrateOptions = {}): Promise<MigrateResult> {
  const createdDatabase = await whenPostgresAnswers(() => ensureDatabase(url), { onWait });
  const dataSource = createDataSource({ url, poolSize: 2, applicationName: 'billing-migrate' });
  await dataSource.initialize();
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return { createdDatabase, applied: applied.map((m) => m.name) };
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await runner.release();
    await dataSource.destroy();
  }
}
