import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ADMIN, bearer } from './support/api.js';
import { createAccount, createKey, credit, uniqueId, usageEvent } from './support/factories.js';
import { type Stack, scratchStack } from './support/stack.js';
import { until } from './support/until.js';
import { WebhookReceiver } from '../bench/webhook-receiver.js';
import { COSTLY_USAGE, aboutAccount, messagesAbout, registerEndpoint, spend } from './support/webhooks.js';

/**
 * Webhooks end to end: the endpoints API and its bad input, billing settings, and every event
 * type written by the change that causes it and delivered to a real receiver that verifies each
 * one with the standardwebhooks package. A database of its own: endpoints get every account's events.
 */
let stack: Stack;
let db: DataSource;
let receiver: WebhookReceiver;
let endpoint: { endpoint_id: string; secret: string };

beforeAll(async () => {
  stack = await scratchStack({ WEBHOOK_TIMEOUT_MS: 1_000, GRANT_EXPIRY_INTERVAL_MS: 100 });
  db = stack.db;
  receiver = await new WebhookReceiver().start();
  endpoint = await registerEndpoint(stack.api, receiver);
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await receiver?.stop();
});

const http = () => stack.api.http();
const endpointCount = async () => (await db.query('SELECT count(*)::int AS n FROM webhook_endpoints'))[0].n as number;
const settings = (accountId: string, body: unknown) => http().put(`/v1/accounts/${accountId}/billing-settings`).set(ADMIN).send(body as object);
const balanceOf = async (accountId: string) => (await http().get(`/v1/accounts/${accountId}/balance`).set(ADMIN).expect(200)).body.balance as string;

async function funded(amount: string): Promise<string> {
  const { account_id } = await createAccount(stack.api);
  await credit(stack.api, account_id, amount);
  return account_id;
}

describe('endpoints', () => {
  it('shows the secret once, never again, and stores it only sealed', async () => {
    const extra = await new WebhookReceiver().start();
    try {
      const created = await http().post('/v1/webhook-endpoints').set(ADMIN).send({ url: extra.url(), events: ['balance.low', 'hold.declined'], description: 'alerts' }).expect(201);
      expect(created.body).toEqual({
        endpoint_id: expect.stringMatching(/^we_[0-9a-f]{16}$/),
        url: extra.url(),
        events: ['balance.low', 'hold.declined'],
        description: 'alerts',
        secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
        created_at: expect.any(String),
        secret_rotated_at: null,
        previous_secret_expires_at: null,
      });
      const { endpoint_id, secret } = created.body;
      const listed = (await http().get('/v1/webhook-endpoints').set(ADMIN).expect(200)).body;
      expect(listed.data.find((e: { endpoint_id: string }) => e.endpoint_id === endpoint_id)).toEqual({ ...created.body, secret: undefined });
      expect(JSON.stringify(listed)).not.toContain('whsec_');
      expect((await http().get(`/v1/webhook-endpoints/${endpoint_id}`).set(ADMIN).expect(200)).body).not.toHaveProperty('secret');

      // Whatever the table holds, it is not the secret or its key bytes, in any column.
      const rows = await db.query('SELECT * FROM webhook_endpoints WHERE endpoint_id = $1', [endpoint_id]);
      const stored = JSON.stringify(rows);
      expect(rows).toHaveLength(1);
      expect(stored).not.toContain(secret);
      expect(stored).not.toContain(secret.slice('whsec_'.length, 30));
      expect(stored).not.toContain(Buffer.from(secret.slice('whsec_'.length), 'base64').toString('hex').slice(0, 20));
      expect(rows[0].secret_sealed).toMatch(/^v1\./);

      const rotated = (await http().post(`/v1/webhook-endpoints/${endpoint_id}/rotate-secret`).set(ADMIN).send({}).expect(200)).body;
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(secret);
      expect(new Date(rotated.previous_secret_expires_at).getTime() - Date.now()).toBeGreaterThan(86_300_000);
      expect(JSON.stringify(await db.query('SELECT * FROM webhook_endpoints WHERE endpoint_id = $1', [endpoint_id]))).not.toContain(rotated.secret.slice(6, 30));

      await http().delete(`/v1/webhook-endpoints/${endpoint_id}`).set(ADMIN).expect(204);
      await http().get(`/v1/webhook-endpoints/${endpoint_id}`).set(ADMIN).expect(404);
      await http().delete(`/v1/webhook-endpoints/${endpoint_id}`).set(ADMIN).expect(404);
    } finally {
      await extra.stop();
    }
  });

  it('subscribes to every event type when none is named', async () => {
    const { events } = (await http().get(`/v1/webhook-endpoints/${endpoint.endpoint_id}`).set(ADMIN).expect(200)).body;
    expect(events).toEqual(['balance.low', 'balance.depleted', 'balance.recovered', 'credits.expiring', 'credits.expired', 'invoice.finalized', 'recharge.requested', 'hold.declined']);
  });
});

describe('bad input: a 4xx with a clear detail, nothing stored', () => {
  it.each([
    [{ url: 'not a url' }, 'url is not a URL'],
    [{ url: 'ftp://hooks.example.com/x' }, 'url must be an https URL, not ftp'],
    [{ url: 'http://hooks.example.com/billing' }, 'url must be https (http is allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS, and hooks.example.com is not one)'],
    [{ url: 'https://10.0.0.5/hooks' }, 'url 10.0.0.5 is a private, loopback or link-local address'],
    [{ url: 'https://169.254.169.254/latest/meta-data' }, 'url 169.254.169.254 is a private, loopback or link-local address'],
    [{ url: 'https://[::1]:8443/hooks' }, 'url ::1 is a private, loopback or link-local address'],
    [{ url: 'https://127.0.0.2/hooks' }, 'url 127.0.0.2 is a private, loopback or link-local address'],
    [{ url: 'https://hooks.example.com/x', events: ['balance.low', 'balance.lowest'] }, 'events[1] "balance.lowest" is not an event type (balance.low, balance.depleted'],
    [{ url: 'https://hooks.example.com/x', events: [] }, 'events must be a non-empty list of event types'],
  ])('%j', async (body, detail) => {
    const before = await endpointCount();
    const res = await http().post('/v1/webhook-endpoints').set(ADMIN).send(body).expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toContain(detail);
    expect(await endpointCount()).toBe(before);
  });

  it('refuses a host name that resolves to a private address when the host is not allowed', async () => {
    const strict = await (await import('./support/api.js')).startApi({ DATABASE_URL: stack.url, WEBHOOK_ALLOW_HTTP_HOSTS: 'none' });
    try {
      const before = await endpointCount();
      const res = await strict.http().post('/v1/webhook-endpoints').set(ADMIN).send({ url: 'https://localhost/hooks' }).expect(422);
      expect(res.body.detail).toBe('The endpoint is not valid: url localhost resolves to 127.0.0.1, which is a private, loopback or link-local address (allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS).');
      expect(res.body.errors).toEqual([{ field: 'url', message: expect.stringMatching(/^localhost resolves to 127\.0\.0\.1/) }]);
      await strict.http().post('/v1/webhook-endpoints').set(ADMIN).send({ url: receiver.url() }).expect(422);
      expect(await endpointCount()).toBe(before);
    } finally {
      await strict.close();
    }
  });

  it('answers an account key with 403 on every endpoint route, and changes nothing', async () => {
    const account = await funded('1');
    const key = await createKey(stack.api, account);
    const before = await endpointCount();
    const id = endpoint.endpoint_id;
    for (const [method, url] of [
      ['post', '/v1/webhook-endpoints'],
      ['get', '/v1/webhook-endpoints'],
      ['get', `/v1/webhook-endpoints/${id}`],
      ['delete', `/v1/webhook-endpoints/${id}`],
      ['post', `/v1/webhook-endpoints/${id}/rotate-secret`],
      ['get', `/v1/webhook-endpoints/${id}/deliveries`],
      ['post', `/v1/webhook-endpoints/${id}/deliveries/dlv_1/retry`],
    ] as const) {
      const res = await http()[method](url).set(bearer(key)).send(method === 'post' ? { url: 'https://hooks.example.com/x' } : undefined);
      expect({ method, url, status: res.status }).toEqual({ method, url, status: 403 });
      expect(res.body.detail).toBe('This key may not do that.');
    }
    expect(await endpointCount()).toBe(before);
    expect((await http().get(`/v1/webhook-endpoints/${id}`).set(ADMIN).expect(200)).body.secret_rotated_at).toBeNull();
    await http().put(`/v1/accounts/${account}/billing-settings`).set(bearer(key)).send({ low_balance_threshold: '1' }).expect(403);
    expect((await http().get(`/v1/accounts/${account}/billing-settings`).set(bearer(key)).expect(200)).body.low_balance_threshold).toBeNull();
  });

  it.each([
    [{ low_balance_threshold: 'ten' }, 'low_balance_threshold must be a plain decimal string'],
    [{ low_balance_threshold: 10 }, 'low_balance_threshold must be a decimal number written as a string'],
    [{ low_balance_threshold: '-0.01' }, 'low_balance_threshold must not be negative'],
    [{ auto_recharge: { threshold: '-1', target_balance: '10' } }, 'auto_recharge.threshold must not be negative'],
    [{ auto_recharge: { threshold: '10', target_balance: '10' } }, 'auto_recharge.target_balance must be above auto_recharge.threshold'],
    [{ auto_recharge: { threshold: '10', target_balance: '5' } }, 'auto_recharge.target_balance must be above auto_recharge.threshold'],
    [{ auto_recharge: { threshold: '1.5' } }, 'auto_recharge.target_balance must be a decimal number written as a string'],
  ])('billing settings %j', async (body, detail) => {
    const account = await funded('1');
    await settings(account, { low_balance_threshold: '0.5' }).expect(200);
    const res = await settings(account, body).expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.detail).toContain(detail);
    expect((await http().get(`/v1/accounts/${account}/billing-settings`).set(ADMIN).expect(200)).body).toMatchObject({ low_balance_threshold: '0.5', auto_recharge: null });
  });

  it('answers settings for an unknown account with 404, storing nothing', async () => {
    const ghost = uniqueId('ghost');
    const res = await settings(ghost, { low_balance_threshold: '1' }).expect(404);
    expect(res.body.detail).toBe(`No account ${ghost}.`);
    await http().get(`/v1/accounts/${ghost}/billing-settings`).set(ADMIN).expect(404);
    expect(await db.query('SELECT 1 FROM account_balances WHERE account_id = $1', [ghost])).toEqual([]);
  });
});

describe('balance alerts from the usage flush', () => {
  it('sends balance.low once per crossing, balance.depleted at zero and balance.recovered after a credit, each verified', async () => {
    const account = await funded('0.03');
    expect((await settings(account, { low_balance_threshold: '0.02' }).expect(200)).body).toEqual({
      account_id: account,
      low_balance_threshold: '0.02',
      auto_recharge: null,
      open_recharge: null,
      updated_at: expect.any(String),
    });
    // The credit took the new account from 0 to 0.03: recovered.
    expect((await messagesAbout(receiver, account, 1))[0]).toMatchObject({ type: 'balance.recovered', data: { account_id: account, balance: '0.03' } });
    await spend(stack.queue, account, 2); // 0.0179 (below 0.02), then 0.0058 (still below: no second alert)
    const [, low] = await messagesAbout(receiver, account, 2);
    expect(low).toEqual({ id: expect.stringMatching(/^evt_[0-9a-f]{32}$/), type: 'balance.low', timestamp: expect.any(String), data: { account_id: account, balance: '0.0179', low_balance_threshold: '0.02' } });
    await spend(stack.queue, account, 1); // -0.0063
    const [, , depleted] = await messagesAbout(receiver, account, 3);
    expect(depleted).toMatchObject({ type: 'balance.depleted', data: { account_id: account, balance: '-0.0063' } });
    await credit(stack.api, account, '1');
    const [, , , recovered] = await messagesAbout(receiver, account, 4);
    expect(recovered).toMatchObject({ type: 'balance.recovered', data: { account_id: account, balance: '0.9937' } });
    // Above the threshold again, then below: a second crossing, a second alert.
    await spend(stack.queue, account, 1);
    await db.query(`UPDATE account_balances SET low_balance_threshold = 0.99 WHERE account_id = $1`, [account]);
    await spend(stack.queue, account, 1); // 0.9816 -> 0.9695: no crossing of 0.99 (already below)
    await settings(account, { low_balance_threshold: '0.96' }).expect(200);
    await spend(stack.queue, account, 1); // 0.9695 -> 0.9574: crosses 0.96
    const all = await messagesAbout(receiver, account, 5);
    expect(all.map((m) => m.type)).toEqual(['balance.recovered', 'balance.low', 'balance.depleted', 'balance.recovered', 'balance.low']);
    expect(all[4].data).toEqual({ account_id: account, balance: '0.9574', low_balance_threshold: '0.96' });
    expect(new Set(all.map((m) => m.id)).size).toBe(5);
    expect(await balanceOf(account)).toBe('0.9574');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(aboutAccount(receiver, account)).toHaveLength(5);
  });

  it('writes no event for a flush that crosses nothing, with or without settings', async () => {
    const quiet = await funded('5');
    const configured = await funded('5');
    await settings(configured, { low_balance_threshold: '1', auto_recharge: { threshold: '0.5', target_balance: '5' } }).expect(200);
    const before = (await db.query('SELECT count(*)::int AS n FROM webhook_events'))[0].n;
    await spend(stack.queue, quiet, 2);
    await spend(stack.queue, configured, 2);
    expect((await db.query('SELECT count(*)::int AS n FROM webhook_events'))[0].n).toBe(before);
  });
});

describe('auto-recharge', () => {
  it('requests one recharge per account until it is credited, and the credit lands once however often the payment service posts it', async () => {
    const account = await funded('0.03');
    await settings(account, { auto_recharge: { threshold: '0.02', target_balance: '25' } }).expect(200);
    await spend(stack.queue, account, 3); // 0.0179 (requested), 0.0058 and -0.0063 (still open: no second request)
    const [funding, requested, depleted] = await messagesAbout(receiver, account, 3);
    expect(funding.type).toBe('balance.recovered');
    expect(depleted.type).toBe('balance.depleted');
    expect(requested.type).toBe('recharge.requested');
    const key = requested.data.idempotency_key as string;
    expect(requested.data).toEqual({
      account_id: account,
      amount: '24.9821',
      idempotency_key: expect.stringMatching(/^rch_\d+$/),
      balance: '0.0179',
      threshold: '0.02',
      target_balance: '25',
      expires_at: expect.any(String),
    });
    expect(new Date(requested.data.expires_at as string).getTime() - new Date(requested.timestamp).getTime()).toBe(86_400_000);
    const open = (await http().get(`/v1/accounts/${account}/billing-settings`).set(ADMIN).expect(200)).body.open_recharge;
    expect(open).toEqual({ idempotency_key: key, requested_at: expect.any(String), expires_at: requested.data.expires_at });

    // The payment service charged 24.9821 and posts the credit, retrying, twice at once and once more.
    const post = () => http().post(`/v1/accounts/${account}/credits`).set(ADMIN).set('Idempotency-Key', key).send({ amount: requested.data.amount, kind: 'purchase', reference: 'card ch_1' });
    const statuses = (await Promise.all([post(), post()])).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 201]);
    expect((await post()).status).toBe(200);
    const credits = await db.query(`SELECT amount::text FROM ledger_entries WHERE account_id = $1 AND idempotency_key = $2`, [account, key]);
    expect(credits).toEqual([{ amount: '24.982100000000000000' }]);
    // 0.03 - 3 x 0.0121 + 24.9821
    expect(await balanceOf(account)).toBe('24.9758');
    expect((await http().get(`/v1/accounts/${account}/billing-settings`).set(ADMIN).expect(200)).body.open_recharge).toBeNull();
    const recovered = (await messagesAbout(receiver, account, 4))[3];
    expect(recovered).toMatchObject({ type: 'balance.recovered', data: { balance: '24.9758' } });

    // Credited: the next fall below the threshold asks again, with a new key.
    await settings(account, { auto_recharge: { threshold: '24.96', target_balance: '30' } }).expect(200);
    await spend(stack.queue, account, 2); // 24.9637 (not below), 24.9516 (below)
    const again = (await messagesAbout(receiver, account, 5))[4];
    expect(again).toMatchObject({ type: 'recharge.requested', data: { amount: '5.0484', balance: '24.9516' } });
    expect(again.data.idempotency_key).not.toBe(key);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(aboutAccount(receiver, account)).toHaveLength(5);
  });

  it('asks again once the open request is 24 hours old and still not credited', async () => {
    const account = await funded('0.02');
    await settings(account, { auto_recharge: { threshold: '0.01', target_balance: '1' } }).expect(200);
    await spend(stack.queue, account, 1); // 0.0079: requested
    const [, first] = await messagesAbout(receiver, account, 2);
    expect(first.type).toBe('recharge.requested');
    await spend(stack.queue, account, 1); // -0.0042: depleted, no second request
    expect((await messagesAbout(receiver, account, 3))[2].type).toBe('balance.depleted');
    await db.query(`UPDATE account_balances SET recharge_requested_at = recharge_requested_at - interval '24 hours' WHERE account_id = $1`, [account]);
    expect((await http().get(`/v1/accounts/${account}/billing-settings`).set(ADMIN).expect(200)).body.open_recharge).toBeNull();
    await spend(stack.queue, account, 1);
    const second = (await messagesAbout(receiver, account, 4))[3];
    expect(second).toMatchObject({ type: 'recharge.requested', data: { amount: '1.0163', balance: '-0.0163' } });
    expect(second.data.idempotency_key).not.toBe(first.data.idempotency_key);
  });
});

describe('events of credits, invoices and holds', () => {
  it('sends credits.expired, and the crossing it causes, when a grant expires with something left', async () => {
    const { account_id: account } = await createAccount(stack.api);
    const expires_at = new Date(Date.now() + 1_500).toISOString();
    const grant = (await http().post(`/v1/accounts/${account}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId('idem')).send({ amount: '2', kind: 'promotional', expires_at }).expect(201)).body;
    await spend(stack.queue, account, 1);
    // Within 7 days of its expiry from the start, it was announced as expiring too.
    const messages = await messagesAbout(receiver, account, 4);
    expect(messages.map((m) => m.type)).toEqual(['balance.recovered', 'credits.expiring', 'credits.expired', 'balance.depleted']);
    expect(messages[2].data).toEqual({ account_id: account, grant_id: grant.grant_id, credit_kind: 'promotional', amount: '1.9879', entry_id: expect.any(String), expires_at });
    expect(messages[3].data).toEqual({ account_id: account, balance: '0' });
  });

  it('sends credits.expiring once for a grant that expires within 7 days and has something left, and none for a used one', async () => {
    const { account_id: account } = await createAccount(stack.api);
    const soon = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const post = (amount: string, expires_at: string, priority: number) =>
      http().post(`/v1/accounts/${account}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId('idem')).send({ amount, kind: 'promotional', expires_at, priority }).expect(201);
    // The usage comes first (0.0121, unfunded), so the grant of 0.01 is used up the moment it is
    // created (a grant first covers what earlier usage left unfunded): no scan, whenever it runs,
    // sees it with something left.
    await spend(stack.queue, account, 1);
    await post('0.01', soon, 1); // covers 0.01 of it: nothing left
    await post('5', new Date(Date.now() + 30 * 86_400_000).toISOString(), 50); // covers the other 0.0021; not within 7 days
    const kept = (await post('5', soon, 60)).body;
    const expiring = await until(async () => aboutAccount(receiver, account).some((m) => m.type === 'credits.expiring'), 'credits.expiring', 20_000).then(() =>
      aboutAccount(receiver, account).filter((m) => m.type === 'credits.expiring'),
    );
    expect(expiring).toEqual([{ id: expect.any(String), type: 'credits.expiring', timestamp: expect.any(String), data: { account_id: account, grant_id: kept.grant_id, credit_kind: 'promotional', remaining: '5', expires_at: soon } }]);
    // Scans go on (every 1.2 s here): nothing more.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(aboutAccount(receiver, account).filter((m) => m.type === 'credits.expiring')).toHaveLength(1);
    expect((await db.query('SELECT count(*)::int AS n FROM grant_expiry_notices n JOIN grants g USING (grant_id) WHERE g.account_id = $1', [account]))[0].n).toBe(2);
  });

  it('sends invoice.finalized when an invoice is finalized, once', async () => {
    const account = await funded('10');
    await stack.queue.add('usage', usageEvent(account, { occurred_at: '2026-10-15T12:00:00Z', usage: COSTLY_USAGE }));
    await until(async () => (await db.query('SELECT 1 FROM usage_events WHERE account_id = $1', [account])).length === 1, 'the October event');
    await http().post('/v1/invoices/generate').set(ADMIN).send({ period: '2026-10' }).expect(200);
    const invoice = (await http().get(`/v1/accounts/${account}/invoices`).set(ADMIN).expect(200)).body.data.find((i: { period: string }) => i.period === '2026-10');
    await http().post(`/v1/invoices/${invoice.invoice_id}/finalize`).set(ADMIN).expect(200);
    await http().post(`/v1/invoices/${invoice.invoice_id}/finalize`).set(ADMIN).expect(200);
    const finalized = await until(async () => aboutAccount(receiver, account).some((m) => m.type === 'invoice.finalized'), 'invoice.finalized').then(() =>
      aboutAccount(receiver, account).filter((m) => m.type === 'invoice.finalized'),
    );
    const read = (await http().get(`/v1/invoices/${invoice.invoice_id}`).set(ADMIN).expect(200)).body;
    expect(finalized).toHaveLength(1);
    expect(finalized[0].data).toEqual({
      invoice_id: read.invoice_id,
      number: read.number,
      account_id: account,
      period: '2026-10',
      usage_total: '0.0121',
      usage_total_rounded: '0.01',
      closing_balance: read.closing_balance,
      finalized_at: read.finalized_at,
    });
  });

  it('sends hold.declined for a 402, with what was requested and available, and nothing for a hold that fits', async () => {
    const account = await funded('1');
    await http().post(`/v1/accounts/${account}/holds`).set(ADMIN).send({ hold_id: uniqueId('h'), amount: '0.75' }).expect(201);
    const hold_id = uniqueId('h');
    await http().post(`/v1/accounts/${account}/holds`).set(ADMIN).send({ hold_id, amount: '0.5' }).expect(402);
    const messages = await messagesAbout(receiver, account, 2);
    expect(messages.map((m) => m.type)).toEqual(['balance.recovered', 'hold.declined']);
    expect(messages[1].data).toEqual({ account_id: account, hold_id, requested: '0.5', available: '0.25' });
  });
});
