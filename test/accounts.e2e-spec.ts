import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ADMIN, bearer, startApi, type TestApi } from './support/api.js';
import { createAccount, createKey, credit, uniqueId } from './support/factories.js';

let api: TestApi;
let db: DataSource;

beforeAll(async () => {
  api = await startApi();
  db = api.app.get(DataSource);
});
afterAll(() => api.close());

const PROBLEM = /^application\/problem\+json/;

describe('POST /v1/accounts', () => {
  it('creates an account with a chosen id, zero balance, depleted', async () => {
    const id = uniqueId();
    const res = await api.http().post('/v1/accounts').set(ADMIN).send({ account_id: id, name: 'Acme, "Inc."' }).expect(201);
    expect(res.body).toEqual({
      account_id: id,
      name: 'Acme, "Inc."',
      currency: 'USD',
      balance: '0',
      status: 'depleted',
      created_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T.*Z$/),
    });
  });

  it('generates an id when none is given', async () => {
    const res = await api.http().post('/v1/accounts').set(ADMIN).send({ name: 'No id' }).expect(201);
    expect(res.body.account_id).toMatch(/^acct_[0-9a-f]{20}$/);
  });

  it('answers 409 when the id exists', async () => {
    const { account_id } = await createAccount(api);
    const res = await api.http().post('/v1/accounts').set(ADMIN).send({ account_id, name: 'again' }).expect(409);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body).toMatchObject({ status: 409, title: 'Conflict', detail: `Account ${account_id} already exists.` });
  });

  it.each([
    [{ name: '' }, 'name'],
    [{}, 'name'],
    [{ name: 'x', account_id: 'has space' }, 'account_id'],
    [{ name: 'x', account_id: "x'; DROP TABLE accounts;--" }, 'account_id'],
    [{ name: 'x', account_id: 42 }, 'account_id'],
    [{ name: 'x'.repeat(201) }, 'name'],
  ])('refuses %j with a 400 naming the field', async (body, field) => {
    const res = await api.http().post('/v1/accounts').set(ADMIN).send(body).expect(400);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
  });

  it('is admin only: 401 without a key, 403 with an account key', async () => {
    const { account_id } = await createAccount(api);
    const secret = await createKey(api, account_id);
    await api.http().post('/v1/accounts').send({ name: 'x' }).expect(401);
    await api.http().post('/v1/accounts').set(bearer('wrong-key')).send({ name: 'x' }).expect(401);
    await api.http().post('/v1/accounts').set(bearer(secret)).send({ name: 'x' }).expect(403);
  });
});

describe('GET /v1/accounts/{id} and /balance', () => {
  it('shows the account to the admin and to its own key, not to another account\'s key', async () => {
    const mine = await createAccount(api, { name: 'Mine' });
    const other = await createAccount(api);
    const secret = await createKey(api, mine.account_id);
    const otherSecret = await createKey(api, other.account_id);
    const asAdmin = await api.http().get(`/v1/accounts/${mine.account_id}`).set(ADMIN).expect(200);
    const asOwner = await api.http().get(`/v1/accounts/${mine.account_id}`).set(bearer(secret)).expect(200);
    expect(asOwner.body).toEqual(asAdmin.body);
    expect(asOwner.body).toMatchObject({ account_id: mine.account_id, name: 'Mine', balance: '0', status: 'depleted' });
    await api.http().get(`/v1/accounts/${mine.account_id}`).set(bearer(otherSecret)).expect(403);
    await api.http().get(`/v1/accounts/${mine.account_id}/balance`).set(bearer(otherSecret)).expect(403);
    await api.http().get(`/v1/accounts/${mine.account_id}/ledger`).set(bearer(otherSecret)).expect(403);
    await api.http().get(`/v1/accounts/${mine.account_id}`).expect(401);
  });

  it('answers 404 for an unknown account', async () => {
    const res = await api.http().get('/v1/accounts/nobody-here/balance').set(ADMIN).expect(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
  });

  it('gives 403, not 404, when an account key asks about an account that does not exist', async () => {
    const { account_id } = await createAccount(api);
    const secret = await createKey(api, account_id);
    await api.http().get('/v1/accounts/nobody-here/balance').set(bearer(secret)).expect(403);
  });

  it('turns active when credits bring the balance above zero and depleted when an adjustment takes it to zero', async () => {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, '10.5');
    const active = await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN).expect(200);
    expect(active.body).toEqual({
      account_id,
      balance: '10.5',
      currency: 'USD',
      status: 'active',
      last_usage_at: null,
      as_of: expect.any(String),
      next_expiry: null,
      held: '0',
      available: '10.5',
    });
    await credit(api, account_id, '-10.5', 'adjustment');
    const depleted = await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN).expect(200);
    expect(depleted.body).toMatchObject({ balance: '0', status: 'depleted' });
  });
});

describe('POST /v1/accounts/{id}/api-keys', () => {
  it('shows the secret once and stores only its hash', async () => {
    const { account_id } = await createAccount(api);
    const res = await api.http().post(`/v1/accounts/${account_id}/api-keys`).set(ADMIN).expect(201);
    expect(res.body).toEqual({ key_id: expect.stringMatching(/^key_[0-9a-f]{16}$/), secret: expect.stringMatching(/^bk_/), account_id, created_at: expect.any(String) });
    const rows = await db.query('SELECT * FROM api_keys WHERE key_id = $1', [res.body.key_id]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows[0])).not.toContain(res.body.secret.slice(20));
    expect(rows[0].secret_hash).toHaveLength(32);
  });

  it('answers 404 for an unknown account', async () => {
    await api.http().post('/v1/accounts/nobody-here/api-keys').set(ADMIN).expect(404);
  });

  it('refuses a well-formed secret whose hash does not match', async () => {
    const { account_id } = await createAccount(api);
    const secret = await createKey(api, account_id);
    const forged = secret.slice(0, -4) + (secret.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    await api.http().get(`/v1/accounts/${account_id}`).set(bearer(forged)).expect(401);
  });
});

describe('POST /v1/accounts/{id}/credits', () => {
  it('credits once per Idempotency-Key: a replay returns the same entry with 200', async () => {
    const { account_id } = await createAccount(api);
    const send = () =>
      api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).set('Idempotency-Key', 'pay-1').send({ amount: '25.00', kind: 'purchase', reference: 'stripe:pi_1' });
    const first = await send().expect(201);
    expect(first.body).toEqual({
      entry_id: expect.stringMatching(/^\d+$/),
      account_id,
      kind: 'credit',
      credit_kind: 'purchase',
      amount: '25',
      balance_after: '25',
      created_at: expect.any(String),
      reference: 'stripe:pi_1',
      event_count: null,
      grant_id: `gr_${first.body.entry_id}`,
    });
    const replay = await send().expect(200);
    expect(replay.body).toEqual(first.body);
    const balance = await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN).expect(200);
    expect(balance.body.balance).toBe('25');
  });

  it('answers 409 when the key is reused with another body, and credits nothing', async () => {
    const { account_id } = await createAccount(api);
    await api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).set('Idempotency-Key', 'k').send({ amount: '5', kind: 'purchase' }).expect(201);
    const res = await api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).set('Idempotency-Key', 'k').send({ amount: '6', kind: 'purchase' }).expect(409);
    expect(res.body.type).toBe('/problems/idempotency-key-reused');
    const balance = await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN);
    expect(balance.body.balance).toBe('5');
  });

  it('credits exactly once when the same request races with itself', async () => {
    const { account_id } = await createAccount(api);
    const results = await Promise.all(
      Array.from({ length: 8 }, () =>
        api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).set('Idempotency-Key', 'race').send({ amount: '1.25', kind: 'promotional' }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(results.map((r) => r.body.entry_id)).size).toBe(1);
    const balance = await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN);
    expect(balance.body.balance).toBe('1.25');
  });

  it('keeps concurrent credits exact and each balance_after consistent', async () => {
    const { account_id } = await createAccount(api);
    const amounts = Array.from({ length: 20 }, (_, i) => `0.${String(i + 1).padStart(18, '0')}`);
    await Promise.all(amounts.map((amount) => credit(api, account_id, amount)));
    const balance = await api.http().get(`/v1/accounts/${account_id}/balance`).set(ADMIN);
    expect(balance.body.balance).toBe('0.00000000000000021');
    const ledger = await api.http().get(`/v1/accounts/${account_id}/ledger`).set(ADMIN).expect(200);
    expect(ledger.body.data[0].balance_after).toBe('0.00000000000000021');
    expect(new Set(ledger.body.data.map((e: { balance_after: string }) => e.balance_after)).size).toBe(20);
  });

  it('lets an adjustment be negative and the balance go below zero', async () => {
    const { account_id } = await createAccount(api);
    const entry = await credit(api, account_id, '-0.00000007', 'adjustment');
    expect(entry).toMatchObject({ kind: 'adjustment', credit_kind: 'adjustment', amount: '-0.00000007', balance_after: '-0.00000007' });
  });

  it.each([
    [{ amount: '-1', kind: 'purchase' }, 422],
    [{ amount: '-1', kind: 'refund' }, 422],
    [{ amount: '0', kind: 'purchase' }, 422],
    [{ amount: '0.0000000000000000001', kind: 'purchase' }, 422],
    [{ amount: '1e3', kind: 'purchase' }, 422],
    [{ amount: '10000000000000', kind: 'purchase' }, 422],
    [{ amount: 25, kind: 'purchase' }, 400],
    [{ amount: '25', kind: 'gift' }, 400],
    [{ kind: 'purchase' }, 400],
  ])('refuses %j with %i and credits nothing', async (body, status) => {
    const { account_id } = await createAccount(api);
    const res = await api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId()).send(body).expect(status);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    const rows = await db.query('SELECT count(*)::int AS n FROM ledger_entries WHERE account_id = $1', [account_id]);
    expect(rows[0].n).toBe(0);
  });

  it('requires an Idempotency-Key', async () => {
    const { account_id } = await createAccount(api);
    const res = await api.http().post(`/v1/accounts/${account_id}/credits`).set(ADMIN).send({ amount: '1', kind: 'purchase' }).expect(400);
    expect(res.body.errors).toEqual([{ field: 'Idempotency-Key', message: 'required' }]);
  });

  it('answers 404 for an unknown account and 403 for an account key', async () => {
    await api.http().post('/v1/accounts/nobody-here/credits').set(ADMIN).set('Idempotency-Key', 'x').send({ amount: '1', kind: 'purchase' }).expect(404);
    const { account_id } = await createAccount(api);
    const secret = await createKey(api, account_id);
    await api.http().post(`/v1/accounts/${account_id}/credits`).set(bearer(secret)).set('Idempotency-Key', 'x').send({ amount: '1', kind: 'purchase' }).expect(403);
  });
});

describe('GET /v1/accounts/{id}/ledger', () => {
  it('lists entries newest first, page by page, without gaps or repeats', async () => {
    const { account_id } = await createAccount(api);
    for (let i = 1; i <= 5; i++) await credit(api, account_id, String(i));
    const seen: string[] = [];
    const pages: unknown[] = [];
    let cursor: string | null = null;
    do {
      const res: { body: { data: { amount: string }[]; next_cursor: string | null } } = await api
        .http()
        .get(`/v1/accounts/${account_id}/ledger`)
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(ADMIN)
        .expect(200);
      seen.push(...res.body.data.map((e) => e.amount));
      pages.push({ cursor, body: res.body });
      cursor = res.body.next_cursor;
    } while (cursor);
    // The pages go into the comparison so that a failure shows what each one returned.
    expect({ seen, pages }).toEqual({ seen: ['5', '4', '3', '2', '1'], pages: expect.any(Array) });
  });

  it('orders by entry id as a number, across a power of ten', async () => {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, '1');
    await credit(api, account_id, '2');
    // Jump the id sequence to the next power of ten: as text, "99" would sort after "100".
    const [{ max }] = await db.query('SELECT max(entry_id)::text AS max FROM ledger_entries');
    await db.query("SELECT setval(pg_get_serial_sequence('ledger_entries', 'entry_id'), $1)", [`1${'0'.repeat(max.length + 1)}`]);
    await credit(api, account_id, '3');
    await credit(api, account_id, '4');
    const first = await api.http().get(`/v1/accounts/${account_id}/ledger`).query({ limit: 3 }).set(ADMIN).expect(200);
    const rest = await api.http().get(`/v1/accounts/${account_id}/ledger`).query({ limit: 3, cursor: first.body.next_cursor }).set(ADMIN).expect(200);
    expect([...first.body.data, ...rest.body.data].map((e: { amount: string; balance_after: string }) => [e.amount, e.balance_after])).toEqual([
      ['4', '10'],
      ['3', '6'],
      ['2', '3'],
      ['1', '1'],
    ]);
  });

  it('filters by from (inclusive) and to (exclusive)', async () => {
    const { account_id } = await createAccount(api);
    const first = await credit(api, account_id, '1');
    const second = await credit(api, account_id, '2');
    const res = await api.http().get(`/v1/accounts/${account_id}/ledger`).query({ from: second.created_at }).set(ADMIN).expect(200);
    expect(res.body.data.map((e: { amount: string }) => e.amount)).toEqual(['2']);
    const before = await api.http().get(`/v1/accounts/${account_id}/ledger`).query({ to: second.created_at }).set(ADMIN).expect(200);
    expect(before.body.data.map((e: { entry_id: string }) => e.entry_id)).toEqual([first.entry_id]);
  });

  it('is readable with the account\'s own key', async () => {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, '3');
    const secret = await createKey(api, account_id);
    const res = await api.http().get(`/v1/accounts/${account_id}/ledger`).set(bearer(secret)).expect(200);
    expect(res.body).toEqual({ data: [expect.objectContaining({ amount: '3', kind: 'credit' })], next_cursor: null });
  });

  it.each([{ limit: 0 }, { limit: 1001 }, { limit: 'ten' }, { cursor: 'not-a-cursor' }, { from: 'yesterday' }, { from: '2026-11-02T00:00:00Z', to: '2026-11-01T00:00:00Z' }])(
    'answers 400 for %j',
    async (query) => {
      const { account_id } = await createAccount(api);
      const res = await api.http().get(`/v1/accounts/${account_id}/ledger`).query(query).set(ADMIN).expect(400);
      expect(res.headers['content-type']).toMatch(PROBLEM);
    },
  );

  it('cannot be rewritten: the database refuses to update or delete a ledger entry', async () => {
    const { account_id } = await createAccount(api);
    await credit(api, account_id, '1');
    await expect(db.query("UPDATE ledger_entries SET amount = 1000 WHERE account_id = $1", [account_id])).rejects.toThrow(/immutable/);
    await expect(db.query('DELETE FROM ledger_entries WHERE account_id = $1', [account_id])).rejects.toThrow(/immutable/);
  });
});
