import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { isDeepStrictEqual } from 'node:util';
import { DataSource } from 'typeorm';
import { Money, formatMoney } from '../libs/billing/src/index.js';
import { ADMIN, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, credit, eventId, uniqueId, usageEvent } from './support/factories.js';
import { WORKER_CONCURRENCY } from '../apps/worker/src/processors/usage.processor.js';

const USAGE_QUEUE = uniqueQueueName();
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;
let db: DataSource;

beforeAll(async () => {
  api = await startApi({ USAGE_QUEUE });
  worker = await startWorker({ USAGE_QUEUE });
  queue = producer(USAGE_QUEUE);
  db = api.app.get(DataSource);
});
afterAll(async () => {
  await queue.close();
  await worker.close();
  await api.close();
});

const getEvent = async (id: string) => (await api.http().get(`/v1/usage-events/${encodeURIComponent(id)}`).set(ADMIN).expect(200)).body;
const balanceOf = async (accountId: string) => (await api.http().get(`/v1/accounts/${accountId}/balance`).set(ADMIN).expect(200)).body.balance as string;

async function send(events: unknown[]): Promise<void> {
  await queue.add('usage-batch', { events });
  await drained(queue);
}

/** The price of an event by the launch rate card, computed here independently of the service. */
const expectedCost = (uncached: number, cached: number, output: number) =>
  new Money(uncached).mul('0.04').add(new Money(cached).mul('0.02')).add(new Money(output).mul('0.07')).div(1_000_000);

describe('the four usage shapes, as engines really send them', () => {
  const cases: [string, Record<string, unknown>, Record<string, unknown>, { input: number; cached_input: number; output: number }, string, boolean][] = [
    ['chat, cache reported as 0', { endpoint: '/v1/chat/completions' }, { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 0 } }, { input: 1000, cached_input: 0, output: 200 }, '0.000054', true],
    ['chat from vLLM, prompt_tokens_details: null', { endpoint: '/v1/chat/completions' }, { prompt_tokens: 500, completion_tokens: 100, total_tokens: 600, prompt_tokens_details: null }, { input: 500, cached_input: 0, output: 100 }, '0.000027', false],
    ['chat from SGLang, top-level reasoning_tokens', { endpoint: '/v1/chat/completions' }, { prompt_tokens: 300, completion_tokens: 150, reasoning_tokens: 120 }, { input: 300, cached_input: 0, output: 150 }, '0.0000225', false],
    ['chat with cache reads and reasoning details', { endpoint: '/v1/chat/completions' }, { prompt_tokens: 2048, completion_tokens: 10, prompt_tokens_details: { cached_tokens: 1024 }, completion_tokens_details: { reasoning_tokens: 8 } }, { input: 1024, cached_input: 1024, output: 10 }, '0.00006214', true],
    ['completions', { endpoint: '/v1/completions' }, { prompt_tokens: 10, completion_tokens: 1 }, { input: 10, cached_input: 0, output: 1 }, '0.00000047', false],
    ['responses with cached and reasoning tokens', { endpoint: '/v1/responses' }, { input_tokens: 4000, output_tokens: 500, input_tokens_details: { cached_tokens: 3000 }, output_tokens_details: { reasoning_tokens: 400 } }, { input: 1000, cached_input: 3000, output: 500 }, '0.000135', true],
    ['messages with cache creation and cache reads', { endpoint: '/v1/messages' }, { input_tokens: 100, cache_creation_input_tokens: 200, cache_read_input_tokens: 5000, output_tokens: 50 }, { input: 300, cached_input: 5000, output: 50 }, '0.0001155', true],
    ['messages without cache fields', { endpoint: '/v1/messages' }, { input_tokens: 100, output_tokens: 50 }, { input: 100, cached_input: 0, output: 50 }, '0.0000075', false],
  ];

  it.each(cases)('prices %s exactly', async (_, fields, usage, tokens, cost, cacheReported) => {
    const { account_id } = await createAccount(api);
    const event = usageEvent(account_id, { ...fields, usage });
    await send([event]);
    expect(await getEvent(event.event_id)).toEqual({
      event_id: event.event_id,
      status: 'priced',
      account_id,
      model: 'qwen3-5-4b',
      endpoint: fields.endpoint,
      occurred_at: new Date(event.occurred_at).toISOString(),
      tokens,
      cache_reported: cacheReported,
      cost,
      rate_card_version: 1,
      ledger_entry_id: expect.stringMatching(/^\d+$/),
      hold_id: null,
      received_at: expect.any(String),
    });
    expect(await balanceOf(account_id)).toBe(`-${cost}`);
  });

  it('resolves every alias, case-insensitively, to the canonical model', async () => {
    const { account_id } = await createAccount(api);
    const events = ['Qwen3.5-4B', 'qwen3.5 4b', 'ALIBABA CLOUD QWEN3.5 4B', 'qwen3-5-4b'].map((model) => usageEvent(account_id, { model }));
    await send(events);
    for (const event of events) expect((await getEvent(event.event_id)).model).toBe('qwen3-5-4b');
  });

  it('bills a one-token event and a full-context event to the last digit', async () => {
    const { account_id } = await createAccount(api);
    const one = usageEvent(account_id, { usage: { prompt_tokens: 0, completion_tokens: 1 } });
    const full = usageEvent(account_id, { usage: { prompt_tokens: 262144, completion_tokens: 32768 } });
    await send([one, full]);
    expect((await getEvent(one.event_id)).cost).toBe('0.00000007');
    expect((await getEvent(full.event_id)).cost).toBe('0.01277952');
    expect(await balanceOf(account_id)).toBe('-0.01277959');
  });
});

describe('rejections', () => {
  const reasons: [string, (accountId: string) => unknown][] = [
    ['invalid_payload', () => 'not an event'],
    ['invalid_event_id', (a) => usageEvent(a, { event_id: '' })],
    ['invalid_account_id', (a) => usageEvent(a, { account_id: 42 })],
    ['unknown_account', () => usageEvent(uniqueId('ghost'))],
    ['unknown_endpoint', (a) => usageEvent(a, { endpoint: '/v1/embeddings' })],
    ['unknown_model', (a) => usageEvent(a, { model: 'gpt-4o' })],
    ['invalid_timestamp', (a) => usageEvent(a, { occurred_at: '2026-11-24 10:00:00' })],
    ['timestamp_in_future', (a) => usageEvent(a, { occurred_at: new Date(Date.now() + 3_600_000).toISOString() })],
    ['before_first_rate_card', (a) => usageEvent(a, { occurred_at: '2025-12-31T23:59:59.999Z' })],
    ['invalid_metadata', (a) => usageEvent(a, { metadata: [1, 2] })],
    ['metadata_too_large', (a) => usageEvent(a, { metadata: { note: 'x'.repeat(5000) } })],
    ['invalid_usage_shape', (a) => usageEvent(a, { usage: { input_tokens: 5, output_tokens: 3 } })],
    ['invalid_token_count', (a) => usageEvent(a, { usage: { prompt_tokens: -1, completion_tokens: 3 } })],
    ['cached_exceeds_input', (a) => usageEvent(a, { usage: { prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 11 } } })],
    ['context_window_exceeded', (a) => usageEvent(a, { usage: { prompt_tokens: 262145, completion_tokens: 3 } })],
    ['max_output_exceeded', (a) => usageEvent(a, { usage: { prompt_tokens: 10, completion_tokens: 32769 } })],
  ];

  it.each(reasons)('records %s with the payload as received, and bills nothing for it', async (reason, make) => {
    const { account_id } = await createAccount(api);
    const payload = make(account_id);
    await send([payload, usageEvent(account_id, { usage: { prompt_tokens: 0, completion_tokens: 1 } })]);
    const res = await api.http().get('/v1/rejected-events').query({ reason, limit: 1000 }).set(ADMIN).expect(200);
    const found = res.body.data.find((r: { payload: unknown }) => isDeepStrictEqual(r.payload, payload));
    expect(found).toMatchObject({ reason, source: 'queue', detail: expect.any(String) });
    expect(await balanceOf(account_id)).toBe('-0.00000007');
    const id = (payload as { event_id?: unknown })?.event_id;
    if (typeof id === 'string' && id) expect(await getEvent(id)).toMatchObject({ status: 'rejected', reason, cost: null });
  });

  it('records an unknown job name and a malformed batch as invalid_job, and keeps working', async () => {
    const { account_id } = await createAccount(api);
    await queue.add('usage-v2', usageEvent(account_id));
    await queue.add('usage-batch', { events: 'all of them' });
    await queue.add('usage-batch', { events: [] });
    await queue.add('usage-batch', null);
    await queue.add('usage', null);
    await drained(queue);
    const after = usageEvent(account_id, { usage: { prompt_tokens: 0, completion_tokens: 2 } });
    await send([after]);
    expect((await getEvent(after.event_id)).status).toBe('priced');
    const res = await api.http().get('/v1/rejected-events').query({ reason: 'invalid_job', limit: 1000 }).set(ADMIN).expect(200);
    const details = res.body.data.map((r: { detail: string }) => r.detail).join('\n');
    expect(details).toContain('Unknown job name "usage-v2"');
    expect(details).toContain('usage-batch job carries');
    expect(await queue.getFailedCount()).toBe(0);
  });

  it('rejects the same id with other content as a conflict and bills the first only', async () => {
    const { account_id } = await createAccount(api);
    const first = usageEvent(account_id, { usage: { prompt_tokens: 0, completion_tokens: 1 } });
    await send([first]);
    await send([{ ...first, usage: { prompt_tokens: 0, completion_tokens: 1000 } }]);
    expect(await balanceOf(account_id)).toBe('-0.00000007');
    expect(await getEvent(first.event_id)).toMatchObject({ status: 'priced', cost: '0.00000007' });
    const res = await api.http().get('/v1/rejected-events').query({ reason: 'conflict', limit: 1000 }).set(ADMIN).expect(200);
    expect(res.body.data.filter((r: { event_id: string }) => r.event_id === first.event_id)).toHaveLength(1);
  });
});

describe('exactly once', () => {
  it('bills a batch of valid, invalid and duplicate events: every event priced, rejected or counted as a duplicate', async () => {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, '1');
    const a = usageEvent(account_id, { usage: { prompt_tokens: 100, completion_tokens: 10 } });
    const b = usageEvent(account_id, { usage: { prompt_tokens: 200, completion_tokens: 20 } });
    await send([a, { ...a, occurred_at: a.occurred_at.replace('Z', '+00:00') }, b, usageEvent(account_id, { model: 'nope' }), { ...b, usage: { prompt_tokens: 1, completion_tokens: 1 } }]);
    // a: 100*0.04 + 10*0.07 = 4.7 micro-dollars; b: 200*0.04 + 20*0.07 = 9.4 micro-dollars.
    expect(await balanceOf(account_id)).toBe('0.9999859');
    const ledger = (await api.http().get(`/v1/accounts/${account_id}/ledger`).set(ADMIN).expect(200)).body.data;
    expect(ledger[0]).toMatchObject({ kind: 'usage', amount: '-0.0000141', balance_after: '0.9999859', event_count: 2, credit_kind: null });
  });

  it('bills once when the same batch is delivered twice at the same time to two workers', async () => {
    const second = await startWorker({ USAGE_QUEUE });
    try {
      const accounts = await Promise.all([createAccount(api), createAccount(api), createAccount(api)]);
      const events = Array.from({ length: 300 }, (_, i) => usageEvent(accounts[i % 3].account_id, { usage: { prompt_tokens: i, completion_tokens: 1 } }));
      await Promise.all([queue.add('usage-batch', { events }), queue.add('usage-batch', { events }), queue.add('usage-batch', { events: [...events].reverse() })]);
      await drained(queue);
      for (const [k, { account_id }] of accounts.entries()) {
        const expected = events.filter((_, i) => i % 3 === k).reduce((sum, e) => sum.add(expectedCost(e.usage.prompt_tokens, 0, 1)), new Money(0));
        expect(await balanceOf(account_id)).toBe(formatMoney(expected.neg()));
      }
      const [{ n }] = await db.query('SELECT count(*)::int AS n FROM usage_events WHERE event_id = ANY($1::text[])', [events.map((e) => e.event_id)]);
      expect(n).toBe(300);
      expect(await queue.getFailedCount()).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('changes nothing when a job is redelivered after it was committed', async () => {
    const { account_id } = await createAccount(api);
    const events = [usageEvent(account_id), usageEvent(account_id), 'junk'];
    await send(events);
    const before = await balanceOf(account_id);
    const [{ n: rejectionsBefore }] = await db.query('SELECT count(*)::int AS n FROM rejected_events');
    await send(events);
    await send(events);
    expect(await balanceOf(account_id)).toBe(before);
    const [{ n: rejectionsAfter }] = await db.query('SELECT count(*)::int AS n FROM rejected_events');
    expect(rejectionsAfter).toBe(rejectionsBefore);
  });

  it('gathers single-event jobs into shared transactions and completes each once', async () => {
    const { account_id } = await createAccount(api);
    const events = Array.from({ length: 400 }, () => usageEvent(account_id, { usage: { prompt_tokens: 7, completion_tokens: 3 } }));
    await queue.addBulk(events.map((data) => ({ name: 'usage', data })));
    await drained(queue);
    const [{ n, debits }] = await db.query(
      'SELECT count(*)::int AS n, count(DISTINCT ledger_entry_id)::int AS debits FROM usage_events WHERE account_id = $1',
      [account_id],
    );
    expect(n).toBe(400);
    expect(debits).toBeLessThan(400);
    // 400 x (7 x 0.04 + 3 x 0.07) / 1e6 = 400 x 0.00000049
    expect(await balanceOf(account_id)).toBe('-0.000196');
    const ledger = (await api.http().get(`/v1/accounts/${account_id}/ledger`).query({ limit: 1000 }).set(ADMIN)).body.data;
    expect(ledger.reduce((sum: number, e: { event_count: number }) => sum + e.event_count, 0)).toBe(400);
    // Every job completed, with the result of the flush that billed it; most were taken in bulk,
    // far more per flush than BullMQ's worker runs at once.
    const ids = new Set(events.map((e) => e.event_id));
    const completed = (await queue.getCompleted(0, 10_000)).filter((job) => ids.has(job?.data?.event_id));
    expect(completed).toHaveLength(400);
    expect(completed.every((job) => typeof job.returnvalue.flush === 'string' && job.attemptsMade === 1)).toBe(true);
    expect(Math.max(...completed.map((job) => job.returnvalue.priced))).toBeGreaterThan(WORKER_CONCURRENCY);
  });

  it('settles single-event jobs taken in bulk one by one: priced, rejected or duplicate, around a batch job', async () => {
    const { account_id } = await createAccount(api);
    const a = usageEvent(account_id, { usage: { prompt_tokens: 1000, completion_tokens: 100 } });
    const b = usageEvent(account_id, { usage: { prompt_tokens: 2000, completion_tokens: 200 } });
    const c = usageEvent(account_id, { usage: { prompt_tokens: 10, completion_tokens: 1 } });
    const conflicting = { ...a, usage: { prompt_tokens: 1, completion_tokens: 1 } };
    await queue.addBulk([
      { name: 'usage', data: a },
      { name: 'usage', data: a },
      { name: 'usage', data: 'junk' },
      { name: 'usage-batch', data: { events: [b, a] } },
      { name: 'usage', data: b },
      { name: 'usage', data: conflicting },
      { name: 'usage', data: c },
    ]);
    await drained(queue);
    // a: 1000 x 0.04 + 100 x 0.07 = 47 micro-dollars; b: 94; c: 0.47.
    expect(await balanceOf(account_id)).toBe('-0.00014147');
    const rejected = await db.query('SELECT reason FROM rejected_events WHERE event_id = $1', [a.event_id]);
    expect(rejected).toEqual([{ reason: 'conflict' }]);
    expect(await queue.getFailedCount()).toBe(0);
  });

  it('keeps balances exact to the last digit against a model computed here', async () => {
    const accounts = await Promise.all(Array.from({ length: 5 }, () => createAccount(api)));
    const expected = new Map(accounts.map((a) => [a.account_id, new Money(0)]));
    let seed = 42;
    const random = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const events = Array.from({ length: 2000 }, () => {
      const account = accounts[random(5)].account_id;
      const prompt = random(262145);
      const cached = random(prompt + 1);
      const output = random(32769);
      expected.set(account, expected.get(account)!.sub(expectedCost(prompt - cached, cached, output)));
      return usageEvent(account, { usage: { prompt_tokens: prompt, completion_tokens: output, prompt_tokens_details: { cached_tokens: cached } } });
    });
    for (let i = 0; i < events.length; i += 500) await queue.add('usage-batch', { events: events.slice(i, i + 500) });
    await drained(queue);
    for (const [account, balance] of expected) expect(await balanceOf(account)).toBe(formatMoney(balance));
  });
});

describe('rollups and the usage series', () => {
  it('keeps rollups equal to the sum over the events, everywhere', async () => {
    const rows = await db.query(`
      SELECT count(*)::int AS mismatches FROM (
        SELECT account_id, date_trunc('hour', occurred_at, 'UTC') AS hour, model_id, rate_card_version,
          count(*) AS requests, sum(input_tokens) AS input_tokens, sum(cached_input_tokens) AS cached, sum(output_tokens) AS output, sum(cost) AS cost
        FROM usage_events GROUP BY 1, 2, 3, 4
      ) e FULL JOIN usage_rollups r USING (account_id, hour, model_id, rate_card_version)
      WHERE r.requests IS DISTINCT FROM e.requests OR r.input_tokens IS DISTINCT FROM e.input_tokens
        OR r.cached_input_tokens IS DISTINCT FROM e.cached OR r.output_tokens IS DISTINCT FROM e.output OR r.cost IS DISTINCT FROM e.cost`);
    expect(rows[0].mismatches).toBe(0);
    const monthly = await db.query(`
      SELECT count(*)::int AS mismatches FROM (
        SELECT account_id, (date_trunc('month', hour, 'UTC') AT TIME ZONE 'UTC')::date AS month, model_id, rate_card_version,
          sum(requests) AS requests, sum(cost) AS cost, sum(input_tokens) AS input, sum(output_tokens) AS output
        FROM usage_rollups GROUP BY 1, 2, 3, 4
      ) h FULL JOIN usage_rollups_monthly m USING (account_id, month, model_id, rate_card_version)
      WHERE m.requests IS DISTINCT FROM h.requests OR m.cost IS DISTINCT FROM h.cost OR m.input_tokens IS DISTINCT FROM h.input
        OR m.output_tokens IS DISTINCT FROM h.output`);
    expect(monthly[0].mismatches).toBe(0);
  });

  it('serves hourly, daily and monthly usage whose totals equal the events', async () => {
    const { account_id } = await createAccount(api);
    const at = (iso: string, output: number) => usageEvent(account_id, { occurred_at: iso, usage: { prompt_tokens: 1000, completion_tokens: output } });
    await send([at('2026-10-31T23:59:59.999Z', 1), at('2026-11-01T00:00:00.000Z', 2), at('2026-11-01T00:30:00Z', 3), at('2026-11-02T10:00:00Z', 4)]);
    const day = await api.http().get(`/v1/accounts/${account_id}/usage`).query({ from: '2026-10-01T00:00:00Z', to: '2026-12-01T00:00:00Z', granularity: 'day' }).set(ADMIN).expect(200);
    expect(day.body.data).toEqual([
      { period_start: '2026-10-31T00:00:00.000Z', model: 'qwen3-5-4b', requests: 1, input_tokens: 1000, cached_input_tokens: 0, output_tokens: 1, cost: '0.00004007' },
      { period_start: '2026-11-01T00:00:00.000Z', model: 'qwen3-5-4b', requests: 2, input_tokens: 2000, cached_input_tokens: 0, output_tokens: 5, cost: '0.00008035' },
      { period_start: '2026-11-02T00:00:00.000Z', model: 'qwen3-5-4b', requests: 1, input_tokens: 1000, cached_input_tokens: 0, output_tokens: 4, cost: '0.00004028' },
    ]);
    const month = await api.http().get(`/v1/accounts/${account_id}/usage`).query({ from: '2026-10-01T00:00:00Z', to: '2026-12-01T00:00:00Z', granularity: 'month' }).set(ADMIN).expect(200);
    expect(month.body.data.map((p: { period_start: string; cost: string }) => [p.period_start, p.cost])).toEqual([
      ['2026-10-01T00:00:00.000Z', '0.00004007'],
      ['2026-11-01T00:00:00.000Z', '0.00012063'],
    ]);
    const hour = await api.http().get(`/v1/accounts/${account_id}/usage`).query({ from: '2026-11-01T00:00:00Z', to: '2026-11-01T02:00:00Z', granularity: 'hour' }).set(ADMIN).expect(200);
    expect(hour.body.data.map((p: { period_start: string; requests: number }) => [p.period_start, p.requests])).toEqual([['2026-11-01T00:00:00.000Z', 2]]);
  });

  it('covers the current UTC month by default', async () => {
    const { account_id } = await createAccount(api);
    await send([usageEvent(account_id)]);
    const res = await api.http().get(`/v1/accounts/${account_id}/usage`).set(ADMIN).expect(200);
    const now = new Date();
    expect(res.body.from).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString());
    expect(res.body.granularity).toBe('day');
    expect(res.body.data).toEqual([expect.objectContaining({ requests: 1, cost: '0.000054' })]);
  });

  it.each([
    [{ from: '2026-11-01T00:30:00Z' }],
    [{ granularity: 'week' }],
    [{ from: '2026-01-01T00:00:00Z', to: '2026-12-01T00:00:00Z', granularity: 'hour' }],
    [{ from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }],
  ])('answers 400 for %j', async (query) => {
    const { account_id } = await createAccount(api);
    await api.http().get(`/v1/accounts/${account_id}/usage`).query(query).set(ADMIN).expect(400);
  });
});

describe('POST /v1/usage-events', () => {
  it('answers 202 with the accepted count and the rejected ones by index, then bills the accepted', async () => {
    const { account_id } = await createAccount(api);
    const good = [usageEvent(account_id), usageEvent(account_id)];
    const res = await api
      .http()
      .post('/v1/usage-events')
      .set(ADMIN)
      .send({ events: [good[0], usageEvent(account_id, { model: 'gpt-4o' }), good[1], usageEvent(uniqueId('ghost'))] })
      .expect(202);
    expect(res.body).toEqual({
      accepted: 2,
      rejected: [
        { index: 1, event_id: expect.any(String), reason: 'unknown_model', detail: expect.any(String) },
        { index: 3, event_id: expect.any(String), reason: 'unknown_account', detail: expect.any(String) },
      ],
    });
    await drained(queue);
    expect(await balanceOf(account_id)).toBe('-0.000108');
    const rejected = await getEvent(res.body.rejected[0].event_id);
    expect(rejected).toMatchObject({ status: 'rejected', reason: 'unknown_model' });
    const listed = await api.http().get('/v1/rejected-events').query({ reason: 'unknown_account' }).set(ADMIN).expect(200);
    expect(listed.body.data.some((r: { event_id: string; source: string }) => r.event_id === res.body.rejected[1].event_id && r.source === 'http')).toBe(true);
  });

  it.each([
    ['an empty list', { events: [] }],
    ['no list', {}],
    ['1001 events', { events: Array.from({ length: 1001 }, () => ({})) }],
    ['a list of the wrong type', { events: 'many' }],
  ])('answers 400 for %s', async (_, body) => {
    const res = await api.http().post('/v1/usage-events').set(ADMIN).send(body).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('is admin only', async () => {
    await api.http().post('/v1/usage-events').send({ events: [{}] }).expect(401);
  });
});

describe('GET /v1/usage-events/{id} and /v1/rejected-events', () => {
  it('answers 404 for an id never received', async () => {
    await api.http().get(`/v1/usage-events/${eventId()}`).set(ADMIN).expect(404);
  });

  it('pages rejected events newest first and filters by reason and time', async () => {
    const { account_id } = await createAccount(api);
    const before = new Date().toISOString();
    await send([usageEvent(account_id, { model: 'm-1' }), usageEvent(account_id, { model: 'm-2' }), usageEvent(account_id, { model: 'm-3' })]);
    const first = await api.http().get('/v1/rejected-events').query({ reason: 'unknown_model', from: before, limit: 2 }).set(ADMIN).expect(200);
    const second = await api.http().get('/v1/rejected-events').query({ reason: 'unknown_model', from: before, limit: 2, cursor: first.body.next_cursor }).set(ADMIN).expect(200);
    const models = [...first.body.data, ...second.body.data].map((r: { payload: { model: string } }) => r.payload.model);
    expect(models).toEqual(['m-3', 'm-2', 'm-1']);
    await api.http().get('/v1/rejected-events').query({ reason: 'bad_reason' }).set(ADMIN).expect(400);
  });
});
