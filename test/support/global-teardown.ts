import { Redis } from 'ioredis';
import pg from 'pg';

/** Drops this run's database and deletes this run's Redis keys (every prefix a spec derived from it). */
export default async function globalTeardown(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (url?.includes('/billing_test_')) {
    const parsed = new URL(url);
    const name = parsed.pathname.slice(1);
    parsed.pathname = '/postgres';
    const client = new pg.Client({ connectionString: parsed.toString() });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => client.end());
  }
  const prefix = process.env.QUEUE_PREFIX;
  if (!prefix?.startsWith('billing-test-')) return;
  const redis = new Redis(process.env.REDIS_URL!);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
