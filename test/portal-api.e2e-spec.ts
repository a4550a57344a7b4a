import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import pg from 'pg';
import { PORTAL_ASSETS } from '../apps/api/src/portal/portal.static.js';
import { ADMIN, bearer, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, createKey, credit, uniqueId, usageEvent } from './support/factories.js';

/**
 * The API side of the customer portal: portal sessions (who may make them, what they open, until
 * when), the per-account usage CSV, and the headers and size of the page itself. The page in a
 * real browser is test/portal.e2e-spec.ts.
 */

const USAGE_QUEUE = uniqueQueueName();
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;
let db: pg.Client;
const fx = { a: '', b: '', aKey: '', bKey: '', aEvents: [] as string[] };

const USAGE_HEADER =
  'event_id,account_id,occurred_at,model,endpoint,rate_card_version,input_tokens,cached_input_tokens,output_tokens,cache_reported,cost,ledger_entry_id,received_at';

async function session(accountId: string, body: object = {}) {
  const res = await api.http().post(`/v1/accounts/${accountId}/portal-sessions`).set(ADMIN).send(body).expect(201);
  const url = new URL(res.body.url);
  const fragment = new URLSearchParams(url.hash.slice(1));
  return { body: res.body as { url: string; expires_at: string }, url, token: fragment.get('session')!, account: fragment.get('account')! };
}

beforeAll(async () => {
  api = await startApi({ USAGE_QUEUE });
  worker = await startWorker({ USAGE_QUEUE });
  queue = producer(USAGE_QUEUE);
  db = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
  fx.a = (await createAccount(api, { name: 'Portal A' })).account_id;
  fx.b = (await createAccount(api, { name: 'Portal B' })).account_id;
  fx.aKey = await createKey(api, fx.a);
  fx.bKey = await createKey(api, fx.b);
  await credit(api, fx.a, '10.00');
  const hour = 3_600_000;
  const events = [
    ...[1, 2, 30].map((h) => usageEvent(fx.a, { occurred_at: new Date(Date.now() - h * hour).toISOString() })),
    ...[1, 2].map((h) => usageEvent(fx.b, { occurred_at: new Date(Date.now() - h * hour).toISOString() })),
  ];
  fx.aEvents = events.filter((e) => e.account_id === fx.a).map((e) => e.event_id);
  await api.http().post('/v1/usage-events').set(ADMIN).send({ events }).expect(202);
  await drained(queue);
}, 60_000);

afterAll(async () => {
  await db?.end();
  await queue?.close();
  await worker?.close();
  await api?.close();
});

describe('POST /v1/accounts/{id}/portal-sessions', () => {
  it('answers 201 with a link to /portal whose token is in the fragment, valid one hour by default', async () => {
    const before = Date.now();
    const { body, url, token, account } = await session(fx.a);
    expect(Object.keys(body).sort()).toEqual(['expires_at', 'url']);
    expect(url.pathname).toBe('/portal/');
    expect(url.search).toBe('');
    expect(account).toBe(fx.a);
    expect(token).toMatch(/^ps_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(body.expires_at) - before;
    expect(ttl).toBeGreaterThan(3_595_000);
    expect(ttl).toBeLessThan(3_605_000);
  });

  it('takes ttl_seconds from 60 to 86400', async () => {
    for (const ttl of [60, 86_400]) {
      const { body } = await session(fx.a, { ttl_seconds: ttl });
      expect(Math.abs(Date.parse(body.expires_at) - Date.now() - ttl * 1000)).toBeLessThan(5_000);
    }
  });

  it.each([59, 0, -1, 86_401, 10 ** 9])('refuses ttl_seconds %d with 422', async (ttl) => {
    const res = await api.http().post(`/v1/accounts/${fx.a}/portal-sessions`).set(ADMIN).send({ ttl_seconds: ttl }).expect(422);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors).toEqual([{ field: 'ttl_seconds', message: 'ttl_seconds must be between 60 and 86400 (24 hours)' }]);
  });

  it('refuses a ttl_seconds that is not a whole number with 400', async () => {
    for (const ttl of ['3600', 90.5, null]) {
      const res = await api.http().post(`/v1/accounts/${fx.a}/portal-sessions`).set(ADMIN).send({ ttl_seconds: ttl });
      expect({ ttl, status: res.status }).toEqual({ ttl, status: ttl === null ? 201 : 400 });
    }
  });

  it('is for the admin only: 403 with an account key (its own account too), 401 without a key', async () => {
    await api.http().post(`/v1/accounts/${fx.a}/portal-sessions`).set(bearer(fx.aKey)).send({}).expect(403);
    await api.http().post(`/v1/accounts/${fx.b}/portal-sessions`).set(bearer(fx.aKey)).send({}).expect(403);
    await api.http().post(`/v1/accounts/${fx.a}/portal-sessions`).send({}).expect(401);
  });

  it('answers 404 for an unknown account', async () => {
    const res = await api.http().post(`/v1/accounts/${uniqueId('ghost')}/portal-sessions`).set(ADMIN).send({}).expect(404);
    expect(res.body.type).toBe('/problems/not-found');
  });

  it('stores only the hash of the token', async () => {
    const { token } = await session(fx.a);
    const id = token.split('_').slice(0, 2).join('_');
    const { rows } = await db.query('SELECT * FROM portal_sessions WHERE session_id = $1', [id]);
    expect(rows).toHaveLength(1);
    expect(rows[0].account_id).toBe(fx.a);
    expect(Buffer.compare(rows[0].secret_hash, createHash('sha256').update(token).digest())).toBe(0);
    expect(JSON.stringify(rows[0])).not.toContain(token.slice(20));
  });

  it('builds the link on PORTAL_PUBLIC_URL when it is set', async () => {
    const other = await startApi({ USAGE_QUEUE, PORTAL_PUBLIC_URL: 'https://billing.example.com/pay' });
    try {
      const res = await other.http().post(`/v1/accounts/${fx.a}/portal-sessions`).set(ADMIN).send({}).expect(201);
      expect(res.body.url).toMatch(new RegExp(`^https://billing\\.example\\.com/pay/portal/#account=${fx.a}&session=ps_`));
    } finally {
      await other.close();
    }
  });
});

describe('a portal session token', () => {
  it("reads exactly what its account's key reads", async () => {
    const { token } = await session(fx.a);
    for (const path of ['', '/balance', '/ledger', '/usage', '/invoices', '/exports/usage.csv']) {
      const url = `/v1/accounts/${fx.a}${path}`;
      const res = await api.http().get(url).set(bearer(token));
      expect({ url, status: res.status }).toEqual({ url, status: 200 });
    }
    const balance = await api.http().get(`/v1/accounts/${fx.a}/balance`).set(bearer(token)).expect(200);
    const byKey = await api.http().get(`/v1/accounts/${fx.a}/balance`).set(bearer(fx.aKey)).expect(200);
    expect(balance.body.balance).toBe(byKey.body.balance);
  });

  it('opens no other account (403) and writes nothing (403)', async () => {
    const { token } = await session(fx.a);
    await api.http().get(`/v1/accounts/${fx.b}`).set(bearer(token)).expect(403);
    await api.http().get(`/v1/accounts/${fx.b}/exports/usage.csv`).set(bearer(token)).expect(403);
    await api.http().post(`/v1/accounts/${fx.a}/credits`).set(bearer(token)).set('Idempotency-Key', uniqueId('idem')).send({ amount: '1', kind: 'purchase' }).expect(403);
    await api.http().post(`/v1/accounts/${fx.a}/api-keys`).set(bearer(token)).expect(403);
    await api.http().post(`/v1/accounts/${fx.a}/portal-sessions`).set(bearer(token)).send({}).expect(403);
    await api.http().get('/v1/exports/usage.csv').set(bearer(token)).expect(403);
  });

  it('stops working once it has expired (401)', async () => {
    const { token } = await session(fx.a);
    const id = token.split('_').slice(0, 2).join('_');
    await api.http().get(`/v1/accounts/${fx.a}`).set(bearer(token)).expect(200);
    // The row as it stands one second after its expiry (created an hour and a second ago).
    await db.query("UPDATE portal_sessions SET created_at = now() - interval '3601 seconds', expires_at = now() - interval '1 second' WHERE session_id = $1", [id]);
    const res = await api.http().get(`/v1/accounts/${fx.a}`).set(bearer(token)).expect(401);
    expect(res.body.detail).toBe('The portal session is not valid or has expired.');
    expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
  });

  it('is refused when changed in any way (401)', async () => {
    const { token } = await session(fx.a);
    const flipped = token.slice(0, -1) + (token.endsWith('A') ? 'B' : 'A');
    const otherId = `ps_${'0'.repeat(16)}${token.slice(19)}`;
    for (const bad of [flipped, otherId, token.slice(0, -1), `${token}x`, token.replace('ps_', 'bk_')]) {
      const res = await api.http().get(`/v1/accounts/${fx.a}`).set(bearer(bad));
      expect({ bad, status: res.status }).toEqual({ bad, status: 401 });
    }
  });
});

describe('GET /v1/accounts/{id}/exports/usage.csv', () => {
  const rows = (text: string) => parse(text, { columns: true }) as Record<string, string>[];

  it("streams the account's own events only, with the finance export's header", async () => {
    const res = await api.http().get(`/v1/accounts/${fx.a}/exports/usage.csv`).set(bearer(fx.aKey)).expect(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(`attachment; filename="usage-${fx.a}.csv"`);
    expect(res.text.split('\r\n')[0]).toBe(USAGE_HEADER);
    const data = rows(res.text);
    expect(data.map((r) => r.event_id).sort()).toEqual([...fx.aEvents].sort());
    expect(new Set(data.map((r) => r.account_id))).toEqual(new Set([fx.a]));
  });

  it('filters by from (inclusive) and to (exclusive)', async () => {
    const from = new Date(Date.now() - 3 * 3_600_000).toISOString();
    const res = await api.http().get(`/v1/accounts/${fx.a}/exports/usage.csv`).query({ from }).set(ADMIN).expect(200);
    expect(rows(res.text)).toHaveLength(2);
    const none = await api.http().get(`/v1/accounts/${fx.a}/exports/usage.csv`).query({ to: '2026-01-01T00:00:00Z' }).set(ADMIN).expect(200);
    expect(none.text).toBe(`${USAGE_HEADER}\r\n`);
  });

  it("answers 401 without a key, 403 with another account's key, 404 for an unknown account, 400 for a bad range", async () => {
    await api.http().get(`/v1/accounts/${fx.a}/exports/usage.csv`).expect(401);
    await api.http().get(`/v1/accounts/${fx.a}/exports/usage.csv`).set(bearer(fx.bKey)).expect(403);
    await api.http().get(`/v1/accounts/${uniqueId('ghost')}/exports/usage.csv`).set(ADMIN).expect(404);
    await api.http().get(`/v1/accounts/${fx.a}/exports/usage.csv`).query({ from: 'yesterday' }).set(ADMIN).expect(400);
    await api.http().get(`/v1/accounts/${fx.a}/exports/usage.csv`).query({ from: '2026-12-01T00:00:00Z', to: '2026-11-01T00:00:00Z' }).set(ADMIN).expect(400);
  });
});

describe('the page at /portal', () => {
  it('is served with a strict CSP, nosniff, no-referrer and no framing by default', async () => {
    const res = await api.http().get('/portal/').expect(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'",
    );
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });

  it('sends the same headers with its scripts and styles, which are cached for good', async () => {
    const html = (await api.http().get('/portal/').expect(200)).text;
    const assets = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+)"/g)].map((m) => m[1]);
    expect(assets.filter((a) => a.endsWith('.js'))).toHaveLength(1);
    expect(assets.filter((a) => a.endsWith('.css'))).toHaveLength(1);
    for (const asset of assets) {
      const res = await api.http().get(`/portal/${asset}`).expect(200);
      expect(res.headers['content-type']).toMatch(asset.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['content-security-policy']).toContain("script-src 'self'");
      expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    }
  });

  it('has no inline script and loads nothing from another origin', async () => {
    const html = (await api.http().get('/portal/').expect(200)).text;
    const scripts = [...html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)];
    expect(scripts.length).toBeGreaterThan(0);
    for (const [tag, body] of scripts) {
      expect(tag).toMatch(/\ssrc="\.\//);
      expect(body.trim()).toBe('');
    }
    expect(html).not.toMatch(/(?:src|href)="(?:https?:)?\/\//);
    expect(html).not.toMatch(/\sstyle=/);
  });

  it('redirects /portal to /portal/ with the headers too', async () => {
    const res = await api.http().get('/portal').expect(301);
    expect(res.headers.location).toBe('/portal/');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('lets PORTAL_FRAME_ANCESTORS choose who may frame it', async () => {
    const other = await startApi({ USAGE_QUEUE, PORTAL_FRAME_ANCESTORS: "'self' https://app.example.com" });
    try {
      const res = await other.http().get('/portal/').expect(200);
      expect(res.headers['content-security-policy']).toContain("; frame-ancestors 'self' https://app.example.com;");
      expect(res.headers['x-frame-options']).toBeUndefined();
    } finally {
      await other.close();
    }
  });

  it('ships at most 150 KB of JavaScript, gzipped', () => {
    const dir = join(PORTAL_ASSETS, 'assets');
    const scripts = readdirSync(dir).filter((f) => f.endsWith('.js'));
    expect(scripts.length).toBeGreaterThan(0);
    const gzipped = scripts.reduce((total, f) => total + gzipSync(readFileSync(join(dir, f)), { level: 9 }).length, 0);
    process.stdout.write(`portal bundle: ${scripts.join(', ')}: ${(gzipped / 1024).toFixed(1)} KB gzipped\n`);
    expect(gzipped).toBeLessThanOrEqual(150 * 1024);
  });
});
