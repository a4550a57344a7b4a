import { DataSource, type MigrationInterface } from 'typeorm';
import { migrations as shipped } from '../../../migrations/index.js';

export interface DataSourceOptions {
  url: string;
  poolSize?: number;
  applicationName?: string;
  /** The migrations this code knows; the shipped ones unless a test says otherwise. */
  migrations?: (new () => MigrationInterface)[];
}

/** The one DataSource definition: used by the apps, the migration runner and the tests. */
export function createDataSource({ url, poolSize = 10, applicationName = 'billing', migrations = shipped }: DataSourceOptions): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    migrations,
    migrationsTableName: 'typeorm_migrations',
    migrationsRun: false,
    synchronize: false,
    logging: false,
    applicationName,
    // Every session in UTC: hour and month buckets are UTC whatever the server's zone.
    extra: { max: poolSize, connectionTimeoutMillis: 5_000, options: '-c timezone=UTC' },
  });
}
