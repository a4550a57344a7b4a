import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import pg from 'pg';
import { dropDatabase, migrate } from '@app/db';
import { redisConnection } from '@app/queue';
import { KNOBS } from './config.js';
import { accountIds } from './events.js';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/billing';
const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/**
 * What one bench run owns: its database `billing_bench_<run>`, its BullMQ prefix `bench-<run>`,
 * and the connections it opened. cleanup() drops and deletes all of it.
 */
export class BenchContext {
  readonly pool: pg.Pool;
  readonly redis: Redis;
  private readonly queues: Queue[] = [];
  /** SECRETS_KEY of this run's service processes. */
  readonly secretsKey = randomBytes(32).toString('base64');

  private constructor(
    readonly run: string,
    readonly databaseUrl: string,
    readonly redisUrl: string,
    readonly prefix: string,
    readonly adminKey: string,
  ) {
    this.pool = new pg.Pool({ connectionString: databaseUrl, max: 4, application_name: 'billing-bench' });
    this.redis = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  }

  static async create(): Promise<BenchContext> {
    const run = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
    const url = new URL(process.env.DATABASE_URL || DEFAULT_DATABASE_URL);
    url.pathname = `/billing_bench_${run}`;
    const context = new BenchContext(run, url.toString(), process.env.REDIS_URL || DEFAULT_REDIS_URL, `bench-${run}`, `bench-admin-${randomBytes(12).toString('hex')}`);
    await migrate(context.databaseUrl);
    return context;
  }

  /** A BullMQ queue of this run, closed at cleanup. */
  queue(name: string): Queue {
    const queue = new Queue(name, { connection: redisConnection(this.redisUrl), prefix: this.prefix });
    this.queues.push(queue);
    return queue;
  }

  /** Environment of a service process (worker or API) pointed at this run's database and queue. */
  serviceEnv(queue: string, logLevel: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      DATABASE_URL: this.databaseUrl,
      REDIS_URL: this.redisUrl,
      QUEUE_PREFIX: this.prefix,
      USAGE_QUEUE: queue,
      LOG_LEVEL: logLevel,
      ADMIN_API_KEY: this.adminKey,
      ...(KNOBS.flushLanes ? { WORKER_FLUSH_LANES: String(KNOBS.flushLanes) } : {}),
      SECRETS_KEY: this.secretsKey,
      ...extra,
    };
  }

  /**
   * Every scenario starts from the same state: empty event, ledger and rollup tables, `accounts`
   * fresh accounts at balance 0, fresh statistics and a checkpoint (so none lands mid-measurement
   * by schedule of the previous scenario's writes).
   */
  async resetData(accounts: number): Promise<void> {
    // CASCADE: whatever else hangs off accounts (invoices, keys ...) goes too.
    await this.pool.query('TRUNCATE usage_events, usage_event_ids, usage_rollups, usage_rollups_monthly, rejected_events, ledger_entries, account_balances, accounts CASCADE');
    const ids = accountIds(accounts);
    await this.pool.query(`INSERT INTO accounts (account_id, name) SELECT id, 'Bench ' || id FROM unnest($1::text[]) id`, [ids]);
    await this.pool.query('INSERT INTO account_balances (account_id) SELECT unnest($1::text[])', [ids]);
    await this.pool.query('VACUUM ANALYZE accounts, account_balances, usage_events, usage_event_ids, ledger_entries, usage_rollups, usage_rollups_monthly');
    await this.pool.query('CHECKPOINT');
  }

  /**
   * Gives every account a credit of `amount` (one purchase ledger entry and its grant each, balance
   * moved to match), written by SQL: for rows whose holds must keep fitting in what is available.
   */
  async fund(amount: string): Promise<void> {
    await this.pool.query(
      `WITH credits AS (
         INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, reference)
         SELECT b.account_id, 'credit', 'purchase', $1::numeric, b.balance + $1::numeric, 'bench funding' FROM account_balances b ORDER BY b.account_id
         RETURNING entry_id, account_id, credit_kind, amount, created_at
       ), granted AS (
         INSERT INTO grants (grant_id, account_id, entry_id, credit_kind, amount, created_at)
         SELECT 'gr_' || entry_id, account_id, entry_id, credit_kind, amount, created_at FROM credits
       )
       UPDATE account_balances b SET balance = b.balance + $1::numeric FROM credits c WHERE c.account_id = b.account_id`,
      [amount],
    );
  }

  /** Deletes a queue's keys (jobs of a finished scenario) so Redis starts the next one small. */
  async dropQueue(queue: Queue): Promise<void> {
    await queue.obliterate({ force: true }).catch(() => this.deleteKeys(`${this.prefix}:${queue.name}:*`));
  }

  async deleteKeys(pattern = `${this.prefix}:*`): Promise<number> {
    let cursor = '0';
    let deleted = 0;
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      cursor = next;
      if (keys.length) deleted += await this.redis.unlink(...keys);
    } while (cursor !== '0');
    return deleted;
  }

  /** Drops the database and this run's Redis keys; never throws (it runs on failure too). */
  async cleanup(): Promise<string[]> {
    const problems: string[] = [];
    const attempt = async (what: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (error) {
        problems.push(`${what}: ${(error as Error).message}`);
      }
    };
    for (const queue of this.queues) await attempt('close queue', () => queue.close());
    await attempt('close pool', () => this.pool.end());
    await attempt('drop database', () => dropDatabase(this.databaseUrl));
    await attempt('delete redis keys', () => this.deleteKeys());
    await attempt('close redis', () => this.redis.quit());
    return problems;
  }
}
