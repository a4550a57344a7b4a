import type { ConnectionOptions } from 'bullmq';
import { redisDatabaseProblem } from '@app/config';

/**
 * ioredis options for BullMQ from REDIS_URL (`redis://[user:pass@]host:port[/db]`, `rediss://` for TLS).
 * maxRetriesPerRequest must be null for BullMQ workers' blocking commands; commands wait for
 * a reconnect instead of failing, so a Redis restart is survived without intervention.
 */
export function redisConnection(url: string): ConnectionOptions {
  const parsed = new URL(url);
  const problem = redisDatabaseProblem(parsed.pathname);
  if (problem) throw new Error(`REDIS_URL ${problem}`);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: db ? Number(db) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
  };
}
