import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import type { Response } from 'supertest';
import { ADMIN, bearer, drained, producer, startApi, startWorker, uniqueQueueName, type TestApi } from './support/api.js';
import { createAccount, credit, uniqueId, usageEvent } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';

/**
 * The access matrix: every route of the OpenAPI document, called with no key, a wrong key,
 * another account's key, the account's own key and the admin key, against the access rules below.
 *
 * It runs on a scratch database of its own: it generates and finalizes invoices and publishes
 * a rate card, which other spec files sharing the run's database must not see.
 */

type Access = 'public' | 'admin' | 'own' | 'own-invoice';

/**
 * Who may call each route (admin, anyone, or the account itself), one row per (method, path) of /docs-json.
 * The order is the order the routes are exercised in: reads first, then what changes
 * the fixtures (revoking a key, finalizing and voiding the invoice).
 */
const EXPECTED: Record<string, Access> = {
  'GET /health': 'public',
  'GET /metrics': 'public',
  'GET /v1/pricing': 'public',
  'GET /v1/rate-cards': 'admin',
  'GET /v1/rate-cards/{version}': 'admin',
  'POST /v1/rate-cards': 'admin',
  'POST /v1/accounts': 'admin',
  'GET /v1/accounts/{id}': 'own',
  'GET /v1/accounts/{id}/balance': 'own',
  'GET /v1/accounts/{id}/ledger': 'own',
  'GET /v1/accounts/{id}/usage': 'own',
  'GET /v1/accounts/{id}/invoices': 'own',
  'GET /v1/accounts/{id}/exports/usage.csv': 'own',
  'POST /v1/accounts/{id}/portal-sessions': 'admin',
  'POST /v1/accounts/{id}/api-keys': 'admin',
  'GET /v1/accounts/{id}/api-keys': 'admin',
  'POST /v1/accounts/{id}/credits': 'admin',
  'POST /v1/usage-events': 'admin',
  'GET /v1/usage-events/{event_id}': 'admin',
  'GET /v1/rejected-events': 'admin',
  'POST /v1/invoices/generate': 'admin',
  'GET /v1/invoices/{invoice_id}': 'own-invoice',
  'GET /v1/invoices/{invoice_id}/pdf': 'own-invoice',
  'GET /v1/exports/usage.csv': 'admin',
  'GET /v1/exports/ledger.csv': 'admin',
  'GET /v1/exports/invoices.csv': 'admin',
  'GET /v1/reconciliation': 'admin',
  'DELETE /v1/accounts/{id}/api-keys/{key_id}': 'admin',
  'POST /v1/invoices/{invoice_id}/finalize': 'admin',
  'POST /v1/invoices/{invoice_id}/void': 'admin',
  'GET /v1/accounts/{id}/grants': 'own',
  'POST /v1/accounts/{id}/grants/{grant_id}/void': 'admin',
  'GET /v1/reports/credit-liability': 'admin',
  'GET /v1/exports/credit-liability.csv': 'admin',
  'GET /v1/exports/grant-allocations.csv': 'admin',
  'POST /v1/accounts/{id}/holds': 'admin',
  'GET /v1/accounts/{id}/holds': 'own',
  'GET /v1/holds/{hold_id}': 'own-invoice',
  'POST /v1/holds/{hold_id}/release': 'admin',
  'PUT /v1/accounts/{id}/billing-settings': 'admin',
  'GET /v1/accounts/{id}/billing-settings': 'own',
  'POST /v1/webhook-endpoints': 'admin',
  'GET /v1/webhook-endpoints': 'admin',
  'GET /v1/webhook-endpoints/{endpoint_id}': 'admin',
  'GET /v1/webhook-endpoints/{endpoint_id}/deliveries': 'admin',
  'POST /v1/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/retry': 'admin',
  'POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret': 'admin',
  // Last: it deletes the fixture endpoint.
  'DELETE /v1/webhook-endpoints/{endpoint_id}': 'admin',
};

/** Public pages that are not in the document itself (the OpenAPI UI and its JSON). */
const UNDOCUMENTED_PUBLIC = ['GET /docs', 'GET /docs-json'];

const PROBLEM = /^application\/problem\+json/;
const PERIOD = '2026-10';
const HTTP_METHODS = new Set(['get', 'post', 'put', 'patch', 'delete', 'head', 'options']);

type Caller = 'none' | 'wrong' | 'other' | 'own' | 'admin';
const CALLERS: Caller[] = ['none', 'wrong', 'other', 'own', 'admin'];

let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let worker: INestApplicationContext;
let queue: Queue;
let documented: string[] = [];
let requests = 0;
const covered = new Set<string>();

/** Fixtures: account A (the caller's own), account B (another), A's invoice, a spare key of A to revoke. */
const fx = {
  a: '',
  b: '',
  aSecret: '',
  bSecret: '',
  spareKeyId: '',
  eventId: '',
  invoiceId: '',
  grantId: '',
  holdId: '',
  endpointId: '',
  deliveryId: '',
};

/** Well-formed like a real account key (bk_<16 hex>_<43 base64url>) but never issued. */
const WRONG_KEY = `bk_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;

const headersFor = (caller: Caller): Record<string, string> =>
  caller === 'none' ? {} : caller === 'wrong' ? bearer(WRONG_KEY) : caller === 'other' ? bearer(fx.bSecret) : caller === 'own' ? bearer(fx.aSecret) : ADMIN;

interface Concrete {
  method: 'get' | 'post' | 'delete';
  url: string;
  body?: unknown;
  headers?: () => Record<string, string>;
}

/** A concrete, valid request for each documented route, with real ids. */
function concrete(route: string): Concrete {
  const [method, path] = route.split(' ') as [string, string];
  const url = path
    .replace('{id}', encodeURIComponent(fx.a))
    .replace('{key_id}', encodeURIComponent(fx.spareKeyId))
    .replace('{event_id}', encodeURIComponent(fx.eventId))
    .replace('{invoice_id}', encodeURIComponent(fx.invoiceId))
    .replace('{grant_id}', encodeURIComponent(fx.grantId))
    .replace('{hold_id}', encodeURIComponent(fx.holdId))
    .replace('{endpoint_id}', encodeURIComponent(fx.endpointId))
    .replace('{delivery_id}', encodeURIComponent(fx.deliveryId))
    .replace('{version}', '1');
  const m = method.toLowerCase() as Concrete['method'];
  const query: Record<string, string> = {
    'GET /v1/accounts/{id}/ledger': '?limit=10&from=2026-01-01T00:00:00Z',
    'GET /v1/accounts/{id}/usage': `?from=${PERIOD}-01T00:00:00Z&to=2026-11-01T00:00:00Z&granularity=day`,
    'GET /v1/accounts/{id}/invoices': '?limit=10',
    'GET /v1/accounts/{id}/exports/usage.csv': `?from=${PERIOD}-01T00:00:00Z&to=2026-11-01T00:00:00Z`,
    'GET /v1/rate-cards': '?limit=10',
    'GET /v1/rejected-events': '?limit=10',
    'GET /v1/exports/usage.csv': `?from=${PERIOD}-01T00:00:00Z&to=2026-11-01T00:00:00Z`,
    'GET /v1/exports/ledger.csv': `?from=${PERIOD}-01T00:00:00Z`,
    'GET /v1/exports/invoices.csv': `?period=${PERIOD}`,
    'GET /v1/reconciliation': `?from=${PERIOD}-01T00:00:00Z&to=2026-11-01T00:00:00Z`,
    'GET /v1/reports/credit-liability': `?period=${PERIOD}`,
    'GET /v1/exports/credit-liability.csv': `?period=${PERIOD}`,
    'GET /v1/exports/grant-allocations.csv': `?from=${PERIOD}-01T00:00:00Z`,
  };
  const bodies: Record<string, () => unknown> = {
    'POST /v1/rate-cards': () => ({
      effective_from: new Date(Date.now() + 30 * 86_400_000 + Math.floor(Math.random() * 86_400_000)).toISOString(),
      prices: [{ model: 'qwen3-5-4b', input_per_million: '0.04', output_per_million: '0.07', cached_input_per_million: '0.02' }],
    }),
    'POST /v1/accounts': () => ({ account_id: uniqueId('matrix'), name: 'Matrix' }),
    'POST /v1/accounts/{id}/credits': () => ({ amount: '1.00', kind: 'purchase', reference: 'auth-matrix' }),
    'POST /v1/usage-events': () => ({ events: [usageEvent(fx.a, { usage: { prompt_tokens: 1, completion_tokens: 1 } })] }),
    'POST /v1/invoices/generate': () => ({ period: PERIOD }),
    'POST /v1/accounts/{id}/holds': () => ({ amount: '0.01' }),
    'POST /v1/accounts/{id}/portal-sessions': () => ({ ttl_seconds: 60 }),
    'PUT /v1/accounts/{id}/billing-settings': () => ({ low_balance_threshold: '1.00' }),
    'POST /v1/webhook-endpoints': () => ({ url: 'http://127.0.0.1:9/matrix', events: ['invoice.finalized'] }),
    'POST /v1/webhook-endpoints/{endpoint_id}/rotate-secret': () => ({}),
  };
  return {
    method: m,
    url: url + (query[route] ?? ''),
    body: bodies[route]?.(),
    headers: route === 'POST /v1/accounts/{id}/credits' ? () => ({ 'Idempotency-Key': uniqueId('matrix-idem') }) : undefined,
  };
}

async function call(req: Concrete, caller: Caller): Promise<Response> {
  let test = api.http()[req.method](req.url).set(headersFor(caller));
  if (req.headers) test = test.set(req.headers());
  if (req.body !== undefined) test = test.send(req.body as object);
  requests += 1;
  return test;
}

function describeCall(route: string, caller: Caller, res: Response): string {
  return `${route} as ${caller}: ${res.status} ${res.headers['content-type'] ?? ''} ${JSON.stringify(res.body ?? res.text).slice(0, 300)}`;
}

/** The answer a caller of a route of the given class must get. */
function expectAnswer(route: string, access: Access, caller: Caller, res: Response): void {
  const what = describeCall(route, caller, res);
  expect({ what, below500: res.status < 500 }).toEqual({ what, below500: true });
  if (access === 'public') {
    expect({ what, status: res.status }).toEqual({ what, status: 200 });
    return;
  }
  const wanted: Record<Access, Record<Caller, 401 | 403 | 'ok'>> = {
    public: { none: 'ok', wrong: 'ok', other: 'ok', own: 'ok', admin: 'ok' },
    admin: { none: 401, wrong: 401, other: 403, own: 403, admin: 'ok' },
    own: { none: 401, wrong: 401, other: 403, own: 'ok', admin: 'ok' },
    'own-invoice': { none: 401, wrong: 401, other: 403, own: 'ok', admin: 'ok' },
  };
  const want = wanted[access][caller];
  if (want === 'ok') {
    expect({ what, refused: res.status === 401 || res.status === 403 }).toEqual({ what, refused: false });
    // Every concrete request here is valid, so a read answers 200 and a write a 2xx.
    const [method] = route.split(' ');
    if (method === 'GET') expect({ what, status: res.status }).toEqual({ what, status: 200 });
    else expect({ what, ok: res.status >= 200 && res.status < 300 }).toEqual({ what, ok: true });
    return;
  }
  expect({ what, status: res.status }).toEqual({ what, status: want });
  expectProblem(res, want, what);
}

function expectProblem(res: Response, status: 401 | 403, what: string): void {
  expect({ what, contentType: res.headers['content-type'] }).toEqual({ what, contentType: expect.stringMatching(PROBLEM) });
  expect(res.body).toMatchObject({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) });
  if (status === 401) expect({ what, challenge: res.headers['www-authenticate'] }).toEqual({ what, challenge: expect.stringMatching(/^Bearer\b/) });
}

beforeAll(async () => {
  scratch = await scratchDatabase();
  const USAGE_QUEUE = uniqueQueueName();
  const config = { DATABASE_URL: scratch.url, USAGE_QUEUE, RATE_LIMIT_PUBLIC_PER_MINUTE: 1_000_000, RATE_LIMIT_ACCOUNT_PER_MINUTE: 1_000_000, RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: 1_000_000 };
  api = await startApi(config);
  worker = await startWorker({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  queue = producer(USAGE_QUEUE);

  const doc = (await api.http().get('/docs-json').expect(200)).body as { paths: Record<string, Record<string, unknown>> };
  documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops)
      .filter((m) => HTTP_METHODS.has(m))
      .map((m) => `${m.toUpperCase()} ${path}`),
  );

  fx.a = (await createAccount(api, { name: 'Matrix A' })).account_id;
  fx.b = (await createAccount(api, { name: 'Matrix B' })).account_id;
  const key = async (accountId: string) => (await api.http().post(`/v1/accounts/${accountId}/api-keys`).set(ADMIN).expect(201)).body as { key_id: string; secret: string };
  fx.aSecret = (await key(fx.a)).secret;
  fx.bSecret = (await key(fx.b)).secret;
  fx.spareKeyId = (await key(fx.a)).key_id;
  await credit(api, fx.a, '10.00');
  fx.grantId = (await credit(api, fx.a, '0.01', 'promotional')).grant_id;
  fx.holdId = (await api.http().post(`/v1/accounts/${fx.a}/holds`).set(ADMIN).send({ hold_id: uniqueId('matrix-hold'), amount: '0.01' }).expect(201)).body.hold_id;
  // A webhook endpoint with a delivery: a declined hold (nothing listens on port 9; the delivery just fails).
  fx.endpointId = (await api.http().post('/v1/webhook-endpoints').set(ADMIN).send({ url: 'http://127.0.0.1:9/matrix', events: ['hold.declined'] }).expect(201)).body.endpoint_id;
  await api.http().post(`/v1/accounts/${fx.a}/holds`).set(ADMIN).send({ amount: '1000' }).expect(402);
  for (let i = 0; !fx.deliveryId; i++) {
    if (i > 200) throw new Error('no delivery for the matrix endpoint');
    fx.deliveryId = (await api.http().get(`/v1/webhook-endpoints/${fx.endpointId}/deliveries`).set(ADMIN).expect(200)).body.data[0]?.delivery_id ?? '';
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  // An invoice for A: usage in an earlier month, through the queue, then generation.
  const event = usageEvent(fx.a, { occurred_at: `${PERIOD}-15T12:00:00Z` });
  fx.eventId = event.event_id;
  await queue.add('usage', event);
  await drained(queue);
  await api.http().get(`/v1/usage-events/${encodeURIComponent(fx.eventId)}`).set(ADMIN).expect(200);
  await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period: PERIOD }).expect(200);
  const invoices = (await api.http().get(`/v1/accounts/${fx.a}/invoices`).set(ADMIN).expect(200)).body.data as { invoice_id: string; period: string }[];
  const invoice = invoices.find((i) => i.period === PERIOD);
  if (!invoice) throw new Error(`no invoice for ${fx.a} in ${PERIOD}: ${JSON.stringify(invoices)}`);
  fx.invoiceId = invoice.invoice_id;
}, 60_000);

afterAll(async () => {
  process.stdout.write(`auth-matrix: ${covered.size} routes x ${CALLERS.length} callers = ${covered.size * CALLERS.length} requests (${requests} requests in all)\n`);
  await queue?.close();
  await worker?.close();
  await api?.close();
  await scratch?.drop();
});

describe('the expectation table matches the OpenAPI document', () => {
  it('names every documented route (a new route must be classified here)', () => {
    expect(documented.length).toBeGreaterThan(0);
    const missing = documented.filter((route) => !(route in EXPECTED));
    expect(missing).toEqual([]);
  });

  it('names no route the document lacks', () => {
    const stale = Object.keys(EXPECTED).filter((route) => !documented.includes(route));
    expect(stale).toEqual([]);
  });
});

describe('every route x every caller', () => {
  it.each(Object.entries(EXPECTED))('%s (%s)', async (route, access) => {
    const req = concrete(route);
    for (const caller of CALLERS) {
      // POST bodies are rebuilt per caller so that the admin's write is never a replay.
      const res = await call(caller === 'admin' ? concrete(route) : req, caller);
      expectAnswer(route, access, caller, res);
    }
    covered.add(route);
  });

  it.each(UNDOCUMENTED_PUBLIC)('%s is public for every caller', async (route) => {
    const url = route.split(' ')[1];
    for (const caller of CALLERS) {
      const res = await call({ method: 'get', url }, caller);
      expect({ route, caller, status: res.status }).toEqual({ route, caller, status: 200 });
    }
  });

  it("answers 403, not 404, to an account key asking for an unknown account or another account's unknown invoice", async () => {
    const ghost = uniqueId('ghost');
    for (const url of [`/v1/accounts/${ghost}`, `/v1/accounts/${ghost}/balance`, `/v1/invoices/${randomBytes(8).toString('hex')}`]) {
      const res = await call({ method: 'get', url }, 'own');
      expect({ url, status: res.status }).toEqual({ url, status: 403 });
      expectProblem(res, 403, url);
    }
  });
});

describe('revocation and malformed credentials', () => {
  it('refuses a revoked key with 401 from then on', async () => {
    const { key_id, secret } = (await api.http().post(`/v1/accounts/${fx.b}/api-keys`).set(ADMIN).expect(201)).body as { key_id: string; secret: string };
    await api.http().get(`/v1/accounts/${fx.b}`).set(bearer(secret)).expect(200);
    await api.http().delete(`/v1/accounts/${fx.b}/api-keys/${key_id}`).set(ADMIN).expect(204);
    for (const url of [`/v1/accounts/${fx.b}`, `/v1/accounts/${fx.b}/balance`, `/v1/accounts/${fx.b}/ledger`]) {
      const res = await api.http().get(url).set(bearer(secret));
      requests += 1;
      expect({ url, status: res.status }).toEqual({ url, status: 401 });
      expectProblem(res, 401, url);
    }
    // Revoking it again is harmless (204, idempotent, or 404) and does not bring it back.
    const again = await api.http().delete(`/v1/accounts/${fx.b}/api-keys/${key_id}`).set(ADMIN);
    expect([204, 404]).toContain(again.status);
    await api.http().get(`/v1/accounts/${fx.b}`).set(bearer(secret)).expect(401);
    // B's other keys still work.
    await api.http().get(`/v1/accounts/${fx.b}`).set(bearer(fx.bSecret)).expect(200);
  });

  it("does not let the admin revoke one account's key through another account's path", async () => {
    const { key_id, secret } = (await api.http().post(`/v1/accounts/${fx.b}/api-keys`).set(ADMIN).expect(201)).body as { key_id: string; secret: string };
    const res = await api.http().delete(`/v1/accounts/${fx.a}/api-keys/${key_id}`).set(ADMIN);
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(PROBLEM);
    await api.http().get(`/v1/accounts/${fx.b}`).set(bearer(secret)).expect(200);
  });

  const malformed: [string, () => string][] = [
    ['Basic credentials', () => `Basic ${Buffer.from(`admin:${process.env.ADMIN_API_KEY}`).toString('base64')}`],
    ['Basic with the admin key as the token', () => `Basic ${process.env.ADMIN_API_KEY}`],
    ['Bearer with no token', () => 'Bearer'],
    ['Bearer and a space', () => 'Bearer '],
    ['two tokens', () => `Bearer ${process.env.ADMIN_API_KEY} ${process.env.ADMIN_API_KEY}`],
    ['two Bearer prefixes', () => `Bearer Bearer ${process.env.ADMIN_API_KEY}`],
    ['the key without a scheme', () => `${process.env.ADMIN_API_KEY}`],
    ['a 10 kB token', () => `Bearer ${'a'.repeat(10_240)}`],
    ['the admin key with 10 kB appended', () => `Bearer ${process.env.ADMIN_API_KEY}${'x'.repeat(10_240)}`],
    ['a prefix of the admin key', () => `Bearer ${process.env.ADMIN_API_KEY!.slice(0, -1)}`],
    ['the admin key and one more character', () => `Bearer ${process.env.ADMIN_API_KEY}x`],
    ['an account key shape with a wrong secret', () => `Bearer ${fx.aSecret.slice(0, 20)}${'A'.repeat(fx.aSecret.length - 20)}`],
    ['an account key truncated', () => `Bearer ${fx.aSecret.slice(0, -1)}`],
    ['a comma-joined list of schemes', () => `Bearer ${WRONG_KEY}, Bearer ${process.env.ADMIN_API_KEY}`],
    ['SQL in the token', () => "Bearer ' OR 1=1 --"],
    ['Latin-1 bytes in the token', () => 'Bearer \u00e9\u00e8\u00ff'],
    ['an empty header', () => ''],
  ];

  it.each(malformed)('answers 401 with a Bearer challenge to %s, never 500', async (_, header) => {
    for (const url of ['/v1/rate-cards', `/v1/accounts/${fx.a}`, `/v1/invoices/${fx.invoiceId}`]) {
      const res = await api.http().get(url).set('Authorization', header());
      requests += 1;
      expect({ url, status: res.status }).toEqual({ url, status: 401 });
      expectProblem(res, 401, url);
    }
  });
});
