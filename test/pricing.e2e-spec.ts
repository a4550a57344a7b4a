import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ADMIN, bearer, startApi, type TestApi } from './support/api.js';
import { createAccount, createKey } from './support/factories.js';

let api: TestApi;
let db: DataSource;

beforeAll(async () => {
  api = await startApi();
  db = api.app.get(DataSource);
});
afterAll(() => api.close());

const LAUNCH_PRICES = { model: 'qwen3-5-4b', input_per_million: '0.04', output_per_million: '0.07', cached_input_per_million: '0.02' };
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

describe('GET /v1/pricing', () => {
  it('shows the launch catalog and prices to anyone, no key needed', async () => {
    const res = await api.http().get('/v1/pricing').expect(200);
    expect(res.body.currency).toBe('USD');
    expect(res.body.models).toEqual([
      {
        ...LAUNCH_PRICES,
        display_name: 'Qwen3.5 4B',
        aliases: ['Alibaba Cloud Qwen3.5 4B', 'Qwen3.5 4B', 'Qwen3.5-4B'],
        context_window: 262144,
        max_output_tokens: 32768,
      },
    ]);
  });
});

describe('rate cards', () => {
  it('lists version 1 as seeded, effective 2026-01-01', async () => {
    const res = await api.http().get('/v1/rate-cards').set(ADMIN).expect(200);
    expect(res.body.data[0]).toEqual({
      version: 1,
      effective_from: '2026-01-01T00:00:00.000Z',
      currency: 'USD',
      created_at: expect.any(String),
      prices: [LAUNCH_PRICES],
    });
    const one = await api.http().get('/v1/rate-cards/1').set(ADMIN).expect(200);
    expect(one.body).toEqual(res.body.data[0]);
  });

  it('answers 404 for an unknown version and 400 for a version that is not a number', async () => {
    await api.http().get('/v1/rate-cards/999999').set(ADMIN).expect(404);
    await api.http().get('/v1/rate-cards/abc').set(ADMIN).expect(400);
    await api.http().get('/v1/rate-cards/99999999999999999999').set(ADMIN).expect(400);
  });

  it('is admin only', async () => {
    const { account_id } = await createAccount(api);
    const secret = await createKey(api, account_id);
    await api.http().get('/v1/rate-cards').expect(401);
    await api.http().get('/v1/rate-cards').set(bearer(secret)).expect(403);
    await api.http().post('/v1/rate-cards').set(bearer(secret)).send({}).expect(403);
  });

  it.each([
    ['a past effective_from', { effective_from: '2026-02-01T00:00:00Z', prices: [LAUNCH_PRICES] }, 422, 'effective_from'],
    ['an effective_from under 10 minutes ahead', { effective_from: new Date(Date.now() + 5 * 60_000).toISOString(), prices: [LAUNCH_PRICES] }, 422, 'effective_from'],
    ['no offset', { effective_from: '2030-01-01T00:00:00', prices: [LAUNCH_PRICES] }, 422, 'effective_from'],
    ['an unknown model', { effective_from: inDays(400), prices: [{ ...LAUNCH_PRICES, model: 'gpt-9' }] }, 422, 'prices[0].model'],
    ['a model priced twice', { effective_from: inDays(400), prices: [LAUNCH_PRICES, { ...LAUNCH_PRICES, model: 'Qwen3.5-4B' }] }, 422, 'prices[1].model'],
    ['a negative price', { effective_from: inDays(400), prices: [{ ...LAUNCH_PRICES, input_per_million: '-0.01' }] }, 422, 'prices[0].input_per_million'],
    ['13 decimals', { effective_from: inDays(400), prices: [{ ...LAUNCH_PRICES, output_per_million: '0.0000000000001' }] }, 422, 'prices[0].output_per_million'],
    ['a number for a price', { effective_from: inDays(400), prices: [{ ...LAUNCH_PRICES, output_per_million: 0.07 }] }, 400, 'prices[0].output_per_million'],
    ['no prices', { effective_from: inDays(400), prices: [] }, 400, 'prices'],
  ])('refuses %s', async (_, body, status, field) => {
    const before = await db.query('SELECT count(*)::int AS n FROM rate_card_versions');
    const res = await api.http().post('/v1/rate-cards').set(ADMIN).send(body).expect(status);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    const after = await db.query('SELECT count(*)::int AS n FROM rate_card_versions');
    expect(after[0].n).toBe(before[0].n);
  });

  it('creates the next immutable version in the future, and /v1/pricing keeps showing the one in effect', async () => {
    const effective = new Date(Date.now() + 500 * 86_400_000);
    effective.setUTCHours(0, 0, 0, 0);
    const res = await api
      .http()
      .post('/v1/rate-cards')
      .set(ADMIN)
      .send({ effective_from: effective.toISOString(), prices: [{ model: 'Qwen3.5 4B', input_per_million: '0.035', output_per_million: '0.065', cached_input_per_million: '0.0175' }] })
      .expect(201);
    expect(res.body).toMatchObject({
      version: expect.any(Number),
      effective_from: effective.toISOString(),
      prices: [{ model: 'qwen3-5-4b', input_per_million: '0.035', output_per_million: '0.065', cached_input_per_million: '0.0175' }],
    });
    expect(res.body.version).toBeGreaterThan(1);
    const pricing = await api.http().get('/v1/pricing').expect(200);
    expect(pricing.body.rate_card_version).toBe(1);

    // A version that would take effect before the latest one is refused.
    await api.http().post('/v1/rate-cards').set(ADMIN).send({ effective_from: inDays(450), prices: [LAUNCH_PRICES] }).expect(422);

    // The database itself refuses to change or extend a version that is in effect.
    await expect(db.query('UPDATE rate_card_prices SET output_per_million = 1 WHERE version = 1')).rejects.toThrow(/immutable/);
    await expect(db.query('DELETE FROM rate_card_versions WHERE version = 1')).rejects.toThrow(/immutable/);
    await expect(db.query("INSERT INTO models VALUES ('m2', 'M2', 10, 10)").then(() =>
      db.query("INSERT INTO rate_card_prices VALUES (1, 'm2', 1, 1, 1)"))).rejects.toThrow(/in effect and immutable/);
    await db.query("DELETE FROM models WHERE model_id = 'm2'");
  });

  it('pages through versions with a cursor', async () => {
    const res = await api.http().get('/v1/rate-cards').query({ limit: 1 }).set(ADMIN).expect(200);
    expect(res.body.data.map((v: { version: number }) => v.version)).toEqual([1]);
    const rows = await db.query('SELECT count(*)::int AS n FROM rate_card_versions');
    if (rows[0].n > 1) {
      const next = await api.http().get('/v1/rate-cards').query({ limit: 1, cursor: res.body.next_cursor }).set(ADMIN).expect(200);
      expect(next.body.data[0].version).toBe(2);
    } else {
      expect(res.body.next_cursor).toBeNull();
    }
  });
});
