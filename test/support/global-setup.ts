import { randomBytes } from 'node:crypto';

/**
 * One database and one BullMQ prefix per test run, so runs never collide with each other
 * or with anyone's data. Test workers inherit this environment; the e2e setup file
 * (migrated.ts) creates and migrates the database, global-teardown drops it.
 */
export default function globalSetup(): void {
  const run = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const base = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/billing_test_${run}`;
  process.env.DATABASE_URL = base.toString();
  process.env.REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  process.env.QUEUE_PREFIX = `billing-test-${run}`;
  process.env.USAGE_QUEUE = 'usage-events';
  process.env.ADMIN_API_KEY = 'test-admin-key-0123456789-0123456789';
  process.env.SECRETS_KEY = randomBytes(32).toString('base64');
  process.env.LOG_LEVEL = 'silent';
}
