import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { ExportsService, createDataSource, migrate } from '../libs/db/src/index.js';
import { migrations } from '../migrations/index.js';
import { ADMIN, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, credit, usageEvent } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';

/** usage_events partitioned by month: upkeep, the default partition, global event_id uniqueness, pruning, conversion. */
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let worker: INestApplicationContext | undefined;
let queue: Queue;
let db: DataSource;
const USAGE_QUEUE = uniqueQueueName();

const partitions = async () =>
  (await db.query(`SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'usage_events'::regclass ORDER BY 1`)).map(
    (r: { name: string }) => r.name,
  ) as string[];
const monthName = (d: Date) => `usage_events_y${d.getUTCFullYear()}m${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
const plusMonths = (n: number) => {
  const now = new Date();
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + n, 1));
};
const event = async (id: string) => api.http().get(`/v1/usage-events/${encodeURIComponent(id)}`).set(ADMIN);
async function send(events: unknown[]) {
  await queue.add('usage-batch', { events });
  await drained(queue);
}

beforeAll(async () => {
  scratch = await scratchDatabase();
  api = await startApi({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  queue = producer(USAGE_QUEUE);
  db = api.app.get(DataSource);
});
afterAll(async () => {
  await queue?.close();
  await worker?.close();
  await api?.close();
  await scratch?.drop();
});

describe('month partitions of usage_events', () => {
  it('are created at start for this month and three ahead, by the worker itself', async () => {
    for (const ahead of [1, 2, 3]) await db.query(`DROP TABLE ${monthName(plusMonths(ahead))}`);
    expect(await partitions()).not.toContain(monthName(plusMonths(3)));
    worker = await startWorker({ DATABASE_URL: scratch.url, USAGE_QUEUE });
    for (let i = 0; i < 100 && !(await partitions()).includes(monthName(plusMonths(3))); i++) await new Promise((r) => setTimeout(r, 50));
    const names = await partitions();
    for (const ahead of [0, 1, 2, 3]) expect(names).toContain(monthName(plusMonths(ahead)));
    expect(names).toContain('usage_events_default');
  });

  it('bills an event whose month has no partition (it waits in the default one) and moves it in when the month is made', async () => {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, '1');
    await db.query('DROP TABLE usage_events_y2026m03');
    const late = usageEvent(account_id, { occurred_at: '2026-03-15T12:00:00Z' });
    await send([late]);
    expect((await event(late.event_id)).body).toMatchObject({ status: 'priced', cost: '0.000054' });
    expect((await db.query('SELECT count(*)::int AS n FROM usage_events_default'))[0].n).toBe(1);
    await db.query(`SELECT ensure_usage_event_partitions('2026-03-01', '2026-04-01')`);
    expect((await db.query('SELECT count(*)::int AS n FROM usage_events_default'))[0].n).toBe(0);
    expect((await db.query('SELECT count(*)::int AS n FROM usage_events_y2026m03'))[0].n).toBe(1);
    expect((await event(late.event_id)).body).toMatchObject({ status: 'priced', cost: '0.000054' });
    expect((await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN)).body.balance).toBe('0.999946');
  });

  it('keeps event_id unique across months: a redelivery is a duplicate, the same id in another month a conflict', async () => {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, '1');
    const first = usageEvent(account_id, { occurred_at: '2026-04-30T23:59:59.999Z' });
    await send([first]);
    await send([first]); // redelivered: a duplicate
    const moved = { ...first, occurred_at: '2026-05-01T00:00:00.000Z' }; // the same id, across the month boundary
    await send([moved]);
    expect((await event(first.event_id)).body).toMatchObject({ status: 'priced', occurred_at: '2026-04-30T23:59:59.999Z' });
    const rejected = (await api.http().get('/v1/rejected-events?reason=conflict').set(ADMIN)).body.data as { event_id: string }[];
    expect(rejected.map((r) => r.event_id)).toContain(first.event_id);
    expect((await db.query('SELECT count(*)::int AS n FROM usage_events WHERE event_id = $1', [first.event_id]))[0].n).toBe(1);
    expect((await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN)).body.balance).toBe('0.999946');
  });

  it('reads a range from its months only (EXPLAIN shows the pruned partitions)', async () => {
    const plan: string = (
      await db.query(`EXPLAIN SELECT * FROM usage_events WHERE occurred_at >= '2026-04-01T00:00:00Z' AND occurred_at < '2026-05-01T00:00:00Z' ORDER BY occurred_at, event_id`)
    )
      .map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN'])
      .join('\n');
    expect(plan).toContain('usage_events_y2026m04');
    expect(plan).not.toMatch(/usage_events_y2026m0[^4]|usage_events_default/);
    // The export's own statement, as COPY runs it.
    const exportPlan: string = (
      await db.query(`EXPLAIN ${ExportsService.sql('usage', { from: new Date('2026-04-01T00:00:00Z'), to: new Date('2026-05-01T00:00:00Z') })}`)
    )
      .map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN'])
      .join('\n');
    expect(exportPlan).toContain('usage_events_y2026m04');
    expect(exportPlan).not.toMatch(/usage_events_y2026m0[^4]|usage_events_default/);
  });
});

describe('the migration that partitions usage_events', () => {
  it('converts a database that has events: every event, its hash and its debit stay, and redelivery stays a duplicate', async () => {
    const old = await scratchDatabase(); // migrated to the end: redo the last step from the state before it
    const before = createDataSource({ url: old.url, poolSize: 1 });
    await before.initialize();
    try {
      // Undo back to the state just before this migration (those after it first).
      const index = migrations.findIndex((m) => m.name === 'PartitionUsageEvents1795000015000');
      for (let undo = migrations.length - index; undo > 0; undo--) await before.undoLastMigration({ transaction: 'each' });
      expect((await before.query('SELECT name FROM typeorm_migrations ORDER BY id DESC LIMIT 1'))[0].name).toBe(migrations[index - 1].name);
      await before.query(`INSERT INTO accounts (account_id, name) VALUES ('conv', 'Conversion')`);
      await before.query(`INSERT INTO account_balances (account_id, balance) VALUES ('conv', -0.000054)`);
      await before.query(`INSERT INTO ledger_entries (account_id, kind, amount, balance_after, reference, event_count) VALUES ('conv', 'usage', -0.000054, -0.000054, 'old', 1)`);
      await before.query(
        `INSERT INTO usage_events (event_id, account_id, model_id, endpoint, occurred_at, rate_card_version, input_tokens, cached_input_tokens,
           output_tokens, cache_reported, cost, content_hash, usage, metadata, ledger_entry_id)
         SELECT 'conv-1', 'conv', 'qwen3-5-4b', '/v1/chat/completions', '2026-02-10T10:00:00Z', 1, 1000, 0, 200, true, 0.000054, 'abc123',
           '{"prompt_tokens":1000,"completion_tokens":200}', '{"team":"a"}', max(entry_id) FROM ledger_entries`,
      );
      await migrate(old.url);
      const [row] = await before.query(
        `SELECT e.event_id, e.cost::text, e.usage::text, e.metadata::text, i.content_hash, e.ledger_entry_id::text AS entry
         FROM usage_events e JOIN usage_event_ids i USING (event_id)`,
      );
      expect(row).toMatchObject({ event_id: 'conv-1', cost: '0.000054000000000000', content_hash: 'abc123' });
      expect(JSON.parse(row.usage)).toEqual({ prompt_tokens: 1000, completion_tokens: 200 });
      expect(JSON.parse(row.metadata)).toEqual({ team: 'a' });
      expect((await before.query('SELECT count(*)::int AS n FROM usage_events_y2026m02'))[0].n).toBe(1);
      // The id is still taken: claiming it again claims nothing.
      const claimed = await before.query(`INSERT INTO usage_event_ids VALUES ('conv-1', now(), 'x') ON CONFLICT DO NOTHING RETURNING event_id`);
      expect(claimed).toEqual([]);
    } finally {
      await before.destroy();
      await old.drop();
    }
  });
});
