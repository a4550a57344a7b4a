import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { Money } from '../libs/billing/src/index.js';
import { HoldsRepository } from '../libs/db/src/index.js';
import { ADMIN, bearer, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, createKey, credit, uniqueId, usageEvent } from './support/factories.js';
import { until } from './support/until.js';

const USAGE_QUEUE = uniqueQueueName();
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;

beforeAll(async () => {
  api = await startApi({ USAGE_QUEUE });
  worker = await startWorker({ USAGE_QUEUE });
  queue = producer(USAGE_QUEUE);
});
afterAll(async () => {
  await queue.close();
  await worker.close();
  await api.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hold = (accountId: string, body: object, headers = ADMIN) => api.http().post(`/v1/accounts/${accountId}/holds`).set(headers).send(body);
const balanceOf = async (accountId: string) => (await api.http().get(`/v1/accounts/${accountId}/balance`).set(ADMIN).expect(200)).body;
const getHold = async (holdId: string) => (await api.http().get(`/v1/holds/${encodeURIComponent(holdId)}`).set(ADMIN).expect(200)).body;

async function funded(amount = '10'): Promise<string> {
  const { account_id } = await createAccount(api);
  await credit(api, account_id, amount);
  return account_id;
}

describe('authorizing', () => {
  it('holds an amount, and the balance shows it held and no longer available', async () => {
    const account = await funded('10');
    const res = await hold(account, { hold_id: 'h-amount-1', amount: '2.5', ttl_seconds: 60 }).expect(201);
    expect(res.body).toEqual({
      hold_id: 'h-amount-1',
      account_id: account,
      amount: '2.5',
      status: 'active',
      created_at: expect.any(String),
      expires_at: new Date(new Date(res.body.created_at).getTime() + 60_000).toISOString(),
      available: '7.5',
      settled_amount: null,
      settled_event_id: null,
      ended_at: null,
    });
    expect(await balanceOf(account)).toMatchObject({ balance: '10', held: '2.5', available: '7.5', status: 'active' });
  });

  it('prices an estimate at the rate card in effect now: input at the input rate, all of max output at the output rate', async () => {
    const account = await funded('1');
    const res = await hold(account, { estimate: { model: 'Qwen3.5-4B', input_tokens: 12_000, max_output_tokens: 32_768 } }).expect(201);
    // 12000 × 0.04 / 1e6 + 32768 × 0.07 / 1e6
    expect(res.body).toMatchObject({ amount: '0.00277376', available: '0.99722624', status: 'active' });
    expect(res.body.hold_id).toMatch(/^hold_[0-9a-f]{24}$/);
    expect(new Date(res.body.expires_at).getTime() - new Date(res.body.created_at).getTime()).toBe(300_000);
  });

  it('answers the same hold_id and body with the same hold (200), and another body with 409', async () => {
    const account = await funded('10');
    const first = await hold(account, { hold_id: 'h-idem', amount: '1' }).expect(201);
    const again = await hold(account, { hold_id: 'h-idem', amount: '1.0' }).expect(200);
    expect({ ...again.body, available: undefined }).toEqual({ ...first.body, available: undefined });
    await hold(account, { hold_id: 'h-idem', amount: '2' }).expect(409);
    await hold(account, { hold_id: 'h-idem', amount: '1', ttl_seconds: 30 }).expect(409);
    expect((await balanceOf(account)).held).toBe('1');
  });

  it('declines with 402 what does not fit, saying what is available and what was asked, and holds nothing', async () => {
    const account = await funded('1');
    await hold(account, { amount: '0.75' }).expect(201);
    const res = await hold(account, { hold_id: 'h-too-much', amount: '0.3' }).expect(402);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toEqual({
      type: '/problems/insufficient-funds',
      title: 'Payment Required',
      status: 402,
      detail: expect.stringContaining('0.25'),
      available: '0.25',
      requested: '0.3',
    });
    await api.http().get('/v1/holds/h-too-much').set(ADMIN).expect(404);
    await hold(account, { amount: '0.25' }).expect(201);
    expect(await balanceOf(account)).toMatchObject({ held: '1', available: '0' });
  });
});

describe('ending holds', () => {
  it('stops counting at expires_at exactly, without anything having to run', async () => {
    const account = await funded('5');
    await hold(account, { hold_id: 'h-short', amount: '5', ttl_seconds: 1 }).expect(201);
    await hold(account, { amount: '0.01' }).expect(402);
    await sleep(1_050);
    expect((await getHold('h-short')).status).toBe('expired');
    expect(await balanceOf(account)).toMatchObject({ held: '0', available: '5' });
    await hold(account, { amount: '5' }).expect(201);
  });

  it('releases an active hold; again, or a settled or expired one, is answered as it is', async () => {
    const account = await funded('5');
    await hold(account, { hold_id: 'h-release', amount: '2' }).expect(201);
    const released = await api.http().post('/v1/holds/h-release/release').set(ADMIN).expect(200);
    expect(released.body).toMatchObject({ status: 'released', ended_at: expect.any(String) });
    expect((await api.http().post('/v1/holds/h-release/release').set(ADMIN).expect(200)).body).toEqual(released.body);
    await hold(account, { hold_id: 'h-expire', amount: '1', ttl_seconds: 1 }).expect(201);
    await sleep(1_050);
    expect((await api.http().post('/v1/holds/h-expire/release').set(ADMIN).expect(200)).body).toMatchObject({ status: 'expired', ended_at: null });
    await api.http().post('/v1/holds/nothing-here/release').set(ADMIN).expect(404);
    expect((await balanceOf(account)).held).toBe('0');
  });

  it('settles with the event that carries its id, at the event\'s cost, and debits the event in full even above the hold', async () => {
    const account = await funded('1');
    await hold(account, { hold_id: 'h-settle-small', amount: '0.0001' }).expect(201);
    await hold(account, { hold_id: 'h-settle', amount: '0.01' }).expect(201);
    const events = [
      usageEvent(account, { hold_id: 'h-settle-small', usage: { prompt_tokens: 10_000, completion_tokens: 0, prompt_tokens_details: { cached_tokens: 0 } } }),
      usageEvent(account, { hold_id: 'h-settle', usage: { prompt_tokens: 1_000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 0 } } }),
    ];
    await queue.add('usage-batch', { events });
    await drained(queue);
    expect(await getHold('h-settle-small')).toMatchObject({ status: 'settled', settled_amount: '0.0004', settled_event_id: events[0].event_id });
    expect(await getHold('h-settle')).toMatchObject({ status: 'settled', settled_amount: '0.000054', settled_event_id: events[1].event_id });
    expect(await balanceOf(account)).toMatchObject({ balance: '0.999546', held: '0', available: '0.999546' });
    const event = (await api.http().get(`/v1/usage-events/${events[1].event_id}`).set(ADMIN).expect(200)).body;
    expect(event).toMatchObject({ status: 'priced', hold_id: 'h-settle', cost: '0.000054' });
  });

  it('bills an event whose hold is unknown, another account\'s, expired, released or already settled, and leaves that hold as it is', async () => {
    const account = await funded('1');
    const other = await funded('1');
    await hold(other, { hold_id: 'h-others', amount: '0.5' }).expect(201);
    await hold(account, { hold_id: 'h-gone', amount: '0.5', ttl_seconds: 1 }).expect(201);
    await hold(account, { hold_id: 'h-let-go', amount: '0.1' }).expect(201);
    await api.http().post('/v1/holds/h-let-go/release').set(ADMIN).expect(200);
    await hold(account, { hold_id: 'h-used', amount: '0.1' }).expect(201);
    await queue.add('usage', usageEvent(account, { hold_id: 'h-used' }));
    await drained(queue);
    await sleep(1_050);
    const ids = ['h-never-made', 'h-others', 'h-gone', 'h-let-go', 'h-used'];
    await queue.add('usage-batch', { events: ids.map((hold_id) => usageEvent(account, { hold_id })) });
    await drained(queue);
    expect((await balanceOf(account)).balance).toBe(new Money(1).sub(new Money('0.000054').mul(6)).toFixed());
    expect((await getHold('h-others')).status).toBe('active');
    expect((await getHold('h-gone')).status).toBe('expired');
    expect((await getHold('h-let-go')).status).toBe('released');
    expect((await getHold('h-used')).settled_event_id).not.toBeNull();
    expect((await balanceOf(other)).held).toBe('0.5');
  });
});

describe('reading holds', () => {
  it('lists an account\'s holds newest first, by status, and shows one to its own key only', async () => {
    const account = await funded('5');
    const other = await funded('5');
    for (let i = 0; i < 3; i++) await hold(account, { hold_id: `h-list-${i}`, amount: '1' }).expect(201);
    await api.http().post('/v1/holds/h-list-1/release').set(ADMIN).expect(200);
    const page = (await api.http().get(`/v1/accounts/${account}/holds?limit=2`).set(ADMIN).expect(200)).body;
    expect(page.data.map((h: { hold_id: string }) => h.hold_id)).toEqual(['h-list-2', 'h-list-1']);
    const next = (await api.http().get(`/v1/accounts/${account}/holds?limit=2&cursor=${page.next_cursor}`).set(ADMIN).expect(200)).body;
    expect(next).toEqual({ data: [expect.objectContaining({ hold_id: 'h-list-0' })], next_cursor: null });
    const active = (await api.http().get(`/v1/accounts/${account}/holds?status=active`).set(ADMIN).expect(200)).body.data;
    expect(active.map((h: { hold_id: string }) => h.hold_id)).toEqual(['h-list-2', 'h-list-0']);
    const key = await createKey(api, account);
    await api.http().get('/v1/holds/h-list-0').set(bearer(key)).expect(200);
    await api.http().get(`/v1/accounts/${account}/holds`).set(bearer(key)).expect(200);
    const otherKey = await createKey(api, other);
    await api.http().get('/v1/holds/h-list-0').set(bearer(otherKey)).expect(403);
    await api.http().get(`/v1/accounts/${account}/holds`).set(bearer(otherKey)).expect(403);
    await api.http().get('/v1/holds/h-none').set(ADMIN).expect(404);
  });
});

describe('bad input is refused and nothing is held', () => {
  it.each([
    ['both amount and estimate', { amount: '1', estimate: { model: 'qwen3-5-4b', input_tokens: 1, max_output_tokens: 1 } }, 422],
    ['neither amount nor estimate', { ttl_seconds: 10 }, 422],
    ['a number for an amount', { amount: 1 }, 422],
    ['a zero amount', { amount: '0' }, 422],
    ['a negative amount', { amount: '-1' }, 422],
    ['more decimals than the ledger keeps', { amount: '0.0000000000000000001' }, 422],
    ['an unknown model', { estimate: { model: 'gpt-9', input_tokens: 1, max_output_tokens: 1 } }, 422],
    ['input beyond the context window', { estimate: { model: 'qwen3-5-4b', input_tokens: 262_145, max_output_tokens: 1 } }, 422],
    ['output beyond the max output', { estimate: { model: 'qwen3-5-4b', input_tokens: 1, max_output_tokens: 32_769 } }, 422],
    ['fractional tokens', { estimate: { model: 'qwen3-5-4b', input_tokens: 1.5, max_output_tokens: 1 } }, 422],
    ['a ttl of 0', { amount: '1', ttl_seconds: 0 }, 422],
    ['a ttl over an hour', { amount: '1', ttl_seconds: 3601 }, 422],
    ['a hold_id over 128 characters', { hold_id: 'x'.repeat(129), amount: '1' }, 422],
    ['an empty hold_id', { hold_id: '', amount: '1' }, 422],
    ['an array for a body', [{ amount: '1' }], 400],
  ])('%s', async (_, body, status) => {
    const account = await funded('10');
    const res = await hold(account, body).expect(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.length).toBeGreaterThan(0);
    expect(await balanceOf(account)).toMatchObject({ held: '0', available: '10' });
  });

  it('answers 404 for an unknown account and 403 to an account key', async () => {
    await hold('nobody-here', { amount: '1' }).expect(404);
    const account = await funded('10');
    const key = await createKey(api, account);
    await hold(account, { amount: '1' }, bearer(key)).expect(403);
    await api.http().post(`/v1/holds/${uniqueId('h')}/release`).set(bearer(key)).expect(403);
    expect((await balanceOf(account)).held).toBe('0');
  });

  it('rejects an event whose hold_id is not an id, as invalid_hold_id', async () => {
    const account = await funded('1');
    const event = usageEvent(account, { hold_id: 'x'.repeat(129) });
    const res = await api.http().post('/v1/usage-events').set(ADMIN).send({ events: [event] }).expect(202);
    expect(res.body.rejected).toEqual([expect.objectContaining({ index: 0, reason: 'invalid_hold_id' })]);
  });
});

describe('the guarantee under concurrency', () => {
  it('never holds more than is available: 64 clients at once against $10', async () => {
    const account = await funded('10');
    let seed = 11;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    const amounts = Array.from({ length: 64 }, () => new Money(Math.floor(random() * 90_000) + 10_000).div(100_000).toFixed()); // $0.10 - $1.00
    const results = await Promise.all(amounts.map((amount) => hold(account, { amount })));
    const held = results.filter((r) => r.status === 201);
    const declined = results.filter((r) => r.status === 402);
    expect(held.length + declined.length).toBe(64);
    const total = held.reduce((sum, r) => sum.add(r.body.amount), new Money(0));
    expect(total.lte(10)).toBe(true);
    const { available } = await balanceOf(account);
    expect(new Money(available).eq(new Money(10).sub(total))).toBe(true);
    for (const r of declined) expect(new Money(r.body.requested).gt(available)).toBe(true);
    expect(declined.length).toBeGreaterThan(0);
  });

  it('never overdraws while usage is flushed and holds settle and expire meanwhile', async () => {
    const account = await funded('2');
    let seed = 5;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed / 2 ** 31);
    const holds = Array.from({ length: 120 }, (_, i) => ({ hold_id: `mixed-${account}-${i}`, amount: new Money(Math.floor(random() * 4_000) + 1_000).div(100_000).toFixed(), ttl_seconds: i % 3 === 0 ? 1 : 60 }));
    const usage = (async () => {
      for (let round = 0; round < 6; round++) {
        // Events settle some of the holds taken so far (their ids may not exist yet: billed all the same).
        await queue.add('usage-batch', { events: Array.from({ length: 20 }, (_, i) => usageEvent(account, { hold_id: `mixed-${account}-${round * 20 + i}` })) });
        await sleep(150);
      }
    })();
    const results = await Promise.all(holds.map(async (body, i) => (await sleep(i * 10), hold(account, body))));
    await usage;
    await drained(queue);
    for (const r of results) expect([201, 402]).toContain(r.status);
    // Each hold was decided against everything committed before it: what it left available was
    // never below zero, and each refusal asked for more than there was.
    for (const r of results.filter((x) => x.status === 201)) expect(new Money(r.body.available).isNegative()).toBe(false);
    for (const r of results.filter((x) => x.status === 402)) expect(new Money(r.body.requested).gt(r.body.available)).toBe(true);
    // And at the end, once the one-second holds have all run out (so nothing moves between the
    // two reads): held = Σ active holds, available = balance - held.
    await sleep(1_100);
    const state = await balanceOf(account);
    const list = (await api.http().get(`/v1/accounts/${account}/holds?status=active&limit=1000`).set(ADMIN).expect(200)).body.data;
    const active = list.reduce((sum: Money, h: { amount: string }) => sum.add(h.amount), new Money(0));
    expect(new Money(state.held).eq(active)).toBe(true);
    expect(new Money(state.available).eq(new Money(state.balance).sub(state.held))).toBe(true);
    expect(results.some((r) => r.status === 402)).toBe(true);
  });
});

describe('upkeep of active_holds', () => {
  it('vacuums active_holds from the API, outside any transaction, on the real database', async () => {
    const db = api.app.get(DataSource);
    const vacuums = async () => Number((await db.query(`SELECT pg_stat_get_vacuum_count('active_holds'::regclass) AS n`))[0].n);
    const before = await vacuums();
    await api.app.get(HoldsRepository).vacuumActiveHolds();
    await until(async () => (await vacuums()) > before, 'a vacuum of active_holds counted');
  });

  it('plans authorize_holds once per connection and never compiles it with JIT', async () => {
    const db = api.app.get(DataSource);
    const [row] = await db.query(`SELECT proconfig FROM pg_proc WHERE oid = 'authorize_holds(jsonb)'::regprocedure`);
    expect(row.proconfig).toEqual(['plan_cache_mode=force_generic_plan', 'jit=off']);
  });
});
