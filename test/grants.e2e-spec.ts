import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { GrantsService } from '../libs/db/src/index.js';
import { ADMIN, bearer, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, createKey, uniqueId, usageEvent } from './support/factories.js';

const USAGE_QUEUE = uniqueQueueName();
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;
let db: DataSource;

beforeAll(async () => {
  api = await startApi({ USAGE_QUEUE });
  worker = await startWorker({ USAGE_QUEUE, GRANT_EXPIRY_INTERVAL_MS: 200 });
  queue = producer(USAGE_QUEUE);
  db = api.app.get(DataSource);
});
afterAll(async () => {
  await queue.close();
  await worker.close();
  await api.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const inFuture = (ms: number) => new Date(Date.now() + ms).toISOString();

function post(accountId: string, body: Record<string, unknown>, key = uniqueId('idem')) {
  return api.http().post(`/v1/accounts/${accountId}/credits`).set(ADMIN).set('Idempotency-Key', key).send(body);
}
const grantsOf = async (accountId: string, query = '') => (await api.http().get(`/v1/accounts/${accountId}/grants${query}`).set(ADMIN).expect(200)).body;
const balanceOf = async (accountId: string) => (await api.http().get(`/v1/accounts/${accountId}/balance`).set(ADMIN).expect(200)).body;
const ledgerOf = async (accountId: string) => (await api.http().get(`/v1/accounts/${accountId}/ledger`).set(ADMIN).expect(200)).body.data;
const remainingOf = async (accountId: string) =>
  Object.fromEntries(((await grantsOf(accountId)).data as { grant_id: string; remaining: string }[]).map((g) => [g.grant_id, g.remaining]));

/** Usage of exactly `tenThousands` × $0.0004 (10,000 uncached input tokens each). */
async function use(accountId: string, tenThousands: number): Promise<void> {
  const events = Array.from({ length: tenThousands }, () => usageEvent(accountId, { usage: { prompt_tokens: 10_000, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } } }));
  await queue.add('usage-batch', { events });
  await drained(queue);
}

describe('credits are grants', () => {
  it('makes each positive credit a grant, with its priority and expiry', async () => {
    const { account_id } = await createAccount(api);
    const expires = inFuture(86_400_000);
    const res = await post(account_id, { amount: '2.5', kind: 'promotional', priority: 10, expires_at: expires }).expect(201);
    expect(res.body.grant_id).toBe(`gr_${res.body.entry_id}`);
    expect(await grantsOf(account_id)).toEqual({
      data: [
        {
          grant_id: res.body.grant_id,
          account_id,
          credit_kind: 'promotional',
          paid: false,
          amount: '2.5',
          remaining: '2.5',
          priority: 10,
          expires_at: new Date(expires).toISOString(),
          status: 'active',
          created_at: res.body.created_at,
          entry_id: res.body.entry_id,
          ended_at: null,
        },
      ],
      next_cursor: null,
    });
    expect((await balanceOf(account_id)).next_expiry).toEqual({ at: new Date(expires).toISOString(), amount: '2.5' });
  });

  it('refuses bad grant terms with 422 and writes nothing', async () => {
    const { account_id } = await createAccount(api);
    const cases: [Record<string, unknown>, string][] = [
      [{ amount: '1', kind: 'purchase', expires_at: new Date(Date.now() - 1000).toISOString() }, 'expires_at'],
      [{ amount: '1', kind: 'purchase', expires_at: new Date(Date.now() + 11 * 366 * 86_400_000).toISOString() }, 'expires_at'],
      [{ amount: '1', kind: 'purchase', expires_at: 'next tuesday' }, 'expires_at'],
      [{ amount: '1', kind: 'purchase', expires_at: '2027-01-01T00:00:00' }, 'expires_at'],
      [{ amount: '1', kind: 'purchase', priority: 2.5 }, 'priority'],
      [{ amount: '1', kind: 'purchase', priority: -1 }, 'priority'],
      [{ amount: '1', kind: 'purchase', priority: 101 }, 'priority'],
      [{ amount: '1', kind: 'purchase', priority: '50' }, 'priority'],
      [{ amount: '-1', kind: 'adjustment', expires_at: inFuture(86_400_000) }, 'expires_at'],
    ];
    for (const [body, field] of cases) {
      const res = await post(account_id, body).expect(422);
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual([field]);
    }
    expect(await ledgerOf(account_id)).toEqual([]);
    expect((await grantsOf(account_id)).data).toEqual([]);
  });

  it('replays the same body, and counts a body that differs only in expires_at as another one', async () => {
    const { account_id } = await createAccount(api);
    const body = { amount: '1', kind: 'purchase', expires_at: inFuture(86_400_000) };
    const first = await post(account_id, body, 'pay-1').expect(201);
    const again = await post(account_id, body, 'pay-1').expect(200);
    expect(again.body).toEqual(first.body);
    await post(account_id, { ...body, expires_at: inFuture(2 * 86_400_000) }, 'pay-1').expect(409);
    await post(account_id, { ...body, priority: 3 }, 'pay-1').expect(409);
    // Without terms, the default priority is the same request as none.
    const plain = await post(account_id, { amount: '1', kind: 'purchase' }, 'pay-2').expect(201);
    expect((await post(account_id, { amount: '1', kind: 'purchase', priority: 50 }, 'pay-2').expect(200)).body).toEqual(plain.body);
    expect((await balanceOf(account_id)).balance).toBe('2');
  });
});

describe('burn order', () => {
  it('draws usage and negative adjustments by priority, then earliest expiry, then oldest', async () => {
    const { account_id } = await createAccount(api);
    const late = (await post(account_id, { amount: '0.001', kind: 'purchase' }).expect(201)).body.grant_id;
    const soon = (await post(account_id, { amount: '0.001', kind: 'promotional', expires_at: inFuture(3 * 86_400_000) }).expect(201)).body.grant_id;
    const sooner = (await post(account_id, { amount: '0.001', kind: 'promotional', expires_at: inFuture(86_400_000) }).expect(201)).body.grant_id;
    const first = (await post(account_id, { amount: '0.001', kind: 'refund', priority: 0 }).expect(201)).body.grant_id;
    await use(account_id, 3); // 0.0012: all of `first`, 0.0002 of `sooner`
    expect(await remainingOf(account_id)).toEqual({ [first]: '0', [sooner]: '0.0008', [soon]: '0.001', [late]: '0.001' });
    await post(account_id, { amount: '-0.0015', kind: 'adjustment' }).expect(201); // the rest of `sooner`, 0.0007 of `soon`
    expect(await remainingOf(account_id)).toEqual({ [first]: '0', [sooner]: '0', [soon]: '0.0003', [late]: '0.001' });
    const { data } = await grantsOf(account_id, '?status=used');
    expect(data.map((g: { grant_id: string }) => g.grant_id)).toEqual([first, sooner]);
    expect((await balanceOf(account_id)).balance).toBe('0.0013');
  });

  it('leaves usage beyond every grant unfunded, and the next grant covers it first', async () => {
    const { account_id } = await createAccount(api);
    const a = (await post(account_id, { amount: '0.001', kind: 'purchase' }).expect(201)).body.grant_id;
    await use(account_id, 4); // 0.0016: 0.0006 unfunded
    expect((await balanceOf(account_id)).balance).toBe('-0.0006');
    const b = (await post(account_id, { amount: '0.002', kind: 'purchase' }).expect(201)).body.grant_id;
    expect(await remainingOf(account_id)).toEqual({ [a]: '0', [b]: '0.0014' });
    expect((await balanceOf(account_id)).balance).toBe('0.0014');
  });
});

describe('expiry', () => {
  it('removes what is left at expires_at with one expiry entry, once', async () => {
    const { account_id } = await createAccount(api);
    const keep = (await post(account_id, { amount: '1', kind: 'purchase' }).expect(201)).body.grant_id;
    const trial = await post(account_id, { amount: '0.002', kind: 'promotional', expires_at: inFuture(1_500) }).expect(201);
    await use(account_id, 1); // drawn from the trial first: it expires first
    const emptied = await post(account_id, { amount: '0.0004', kind: 'promotional', priority: 0, expires_at: inFuture(1_500) }).expect(201);
    await use(account_id, 1); // empties `emptied` (priority 0)
    await sleep(3_000);
    const entries = (await ledgerOf(account_id)).filter((e: { kind: string }) => e.kind === 'expiry');
    expect(entries).toEqual([
      expect.objectContaining({ kind: 'expiry', credit_kind: 'promotional', amount: '-0.0016', reference: trial.body.grant_id, grant_id: trial.body.grant_id }),
    ]);
    const grants = await grantsOf(account_id);
    const byId = Object.fromEntries(grants.data.map((g: { grant_id: string }) => [g.grant_id, g]));
    expect(byId[trial.body.grant_id]).toMatchObject({ status: 'expired', remaining: '0' });
    expect(byId[emptied.body.grant_id]).toMatchObject({ status: 'expired', remaining: '0' });
    expect(byId[keep]).toMatchObject({ status: 'active', remaining: '1' });
    expect((await balanceOf(account_id)).balance).toBe('1');
    expect((await balanceOf(account_id)).next_expiry).toBeNull();
    // More runs change nothing.
    await sleep(600);
    expect((await ledgerOf(account_id)).filter((e: { kind: string }) => e.kind === 'expiry')).toHaveLength(1);
  });

  it('expires in many runs at once exactly once per grant', async () => {
    const accounts = await Promise.all(Array.from({ length: 20 }, () => createAccount(api)));
    await db.query(
      `WITH c AS (
         UPDATE account_balances SET balance = balance + 1 WHERE account_id = ANY($1) RETURNING account_id, balance
       ), e AS (
         INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after) SELECT account_id, 'credit', 'promotional', 1, balance FROM c RETURNING entry_id, account_id, amount, created_at
       )
       INSERT INTO grants (grant_id, account_id, entry_id, credit_kind, amount, expires_at, created_at)
       SELECT 'gr_' || entry_id, account_id, entry_id, 'promotional', amount, now() + interval '5 minutes', created_at FROM e`,
      [accounts.map((a) => a.account_id)],
    );
    // Due now: the expiry runs of the worker and of these five calls race for them.
    await db.query(`ALTER TABLE grants DISABLE TRIGGER grants_immutable`);
    await db.query(`UPDATE grants SET expires_at = now() - interval '1 second' WHERE account_id = ANY($1)`, [accounts.map((a) => a.account_id)]);
    await db.query(`ALTER TABLE grants ENABLE TRIGGER grants_immutable`);
    const service = api.app.get(GrantsService);
    await Promise.all(Array.from({ length: 5 }, () => service.expireAllDue(3)));
    await sleep(500);
    const [{ n, total }] = await db.query(
      `SELECT count(*)::int AS n, sum(amount)::text AS total FROM ledger_entries WHERE kind = 'expiry' AND account_id = ANY($1)`,
      [accounts.map((a) => a.account_id)],
    );
    expect({ n, total }).toEqual({ n: 20, total: '-20.000000000000000000' });
    for (const { account_id } of accounts) expect((await balanceOf(account_id)).balance).toBe('0');
  });
});

describe('void', () => {
  it('removes what is left now with one void entry; again changes nothing', async () => {
    const { account_id } = await createAccount(api);
    const grant = (await post(account_id, { amount: '0.001', kind: 'purchase' }).expect(201)).body.grant_id;
    await use(account_id, 1);
    const voided = await api.http().post(`/v1/accounts/${account_id}/grants/${grant}/void`).set(ADMIN).expect(200);
    expect(voided.body).toMatchObject({ grant_id: grant, status: 'voided', remaining: '0', amount: '0.001' });
    const again = await api.http().post(`/v1/accounts/${account_id}/grants/${grant}/void`).set(ADMIN).expect(200);
    expect(again.body).toEqual(voided.body);
    const entries = (await ledgerOf(account_id)).filter((e: { kind: string }) => e.kind === 'void');
    expect(entries).toEqual([expect.objectContaining({ kind: 'void', amount: '-0.0006', reference: grant, credit_kind: 'purchase' })]);
    expect((await balanceOf(account_id)).balance).toBe('0');
    // Usage after the void is unfunded, never drawn from the voided grant.
    await use(account_id, 1);
    expect(await remainingOf(account_id)).toEqual({ [grant]: '0' });
    expect((await balanceOf(account_id)).balance).toBe('-0.0004');
  });

  it('answers 404 for an unknown grant or another account\'s, and 403 to an account key', async () => {
    const { account_id } = await createAccount(api);
    const other = await createAccount(api);
    const grant = (await post(other.account_id, { amount: '1', kind: 'purchase' }).expect(201)).body.grant_id;
    await api.http().post(`/v1/accounts/${account_id}/grants/gr_999999999/void`).set(ADMIN).expect(404);
    await api.http().post(`/v1/accounts/${account_id}/grants/${grant}/void`).set(ADMIN).expect(404);
    const key = await createKey(api, other.account_id);
    await api.http().post(`/v1/accounts/${other.account_id}/grants/${grant}/void`).set(bearer(key)).expect(403);
    expect((await api.http().get(`/v1/accounts/${other.account_id}/grants`).set(bearer(key)).expect(200)).body.data).toHaveLength(1);
    await api.http().get(`/v1/accounts/${account_id}/grants`).set(bearer(key)).expect(403);
    expect((await balanceOf(other.account_id)).balance).toBe('1');
  });
});

describe('reading grants', () => {
  it('pages newest first and filters by status', async () => {
    const { account_id } = await createAccount(api);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await post(account_id, { amount: '1', kind: 'purchase' }).expect(201)).body.grant_id);
    await api.http().post(`/v1/accounts/${account_id}/grants/${ids[1]}/void`).set(ADMIN).expect(200);
    const first = await grantsOf(account_id, '?limit=2');
    expect(first.data.map((g: { grant_id: string }) => g.grant_id)).toEqual([ids[4], ids[3]]);
    const second = await grantsOf(account_id, `?limit=2&cursor=${first.next_cursor}`);
    expect(second.data.map((g: { grant_id: string }) => g.grant_id)).toEqual([ids[2], ids[1]]);
    expect((await grantsOf(account_id, '?status=voided')).data.map((g: { grant_id: string }) => g.grant_id)).toEqual([ids[1]]);
    await api.http().get(`/v1/accounts/${account_id}/grants?status=gone`).set(ADMIN).expect(400);
    await api.http().get('/v1/accounts/nobody-here/grants').set(ADMIN).expect(404);
  });
});
