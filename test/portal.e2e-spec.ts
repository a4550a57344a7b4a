import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { AxeBuilder } from '@axe-core/playwright';
import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { parse } from 'csv-parse/sync';
import { Decimal as DecimalJs } from 'decimal.js';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { Browser, Page } from 'playwright-core';
import request from 'supertest';
import { ADMIN, bearer, drained, producer, startWorker, uniqueQueueName } from './support/api.js';
import { type ApiProcess, startApiProcess } from './support/api-process.js';
import { type SeenRequest, guardedContext, launchChromium, screenshotPath } from './support/browser.js';
import { eventId, uniqueId } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';

/**
 * The customer portal in real Chromium (Debian's, headless), against the built API started as a
 * child process on a free 127.0.0.1 port, real Postgres and Redis. Data goes in through the API
 * (accounts, credits, keys, usage through the worker, invoices) and SQL (a second model's rollup,
 * an expired session), on a database of its own: the second model's rollup has no events behind
 * it, which the rollup checks of other spec files must not see. Screenshots of each view land in
 * test-output/portal/.
 *
 * Grants and holds are read from the running API (see "credits and holds"); two more tests there
 * answer the grants and the balance themselves, with figures the seeded account cannot show (18
 * decimals left on a grant, a held amount of every digit), to check how the page formats them.
 */

jest.setTimeout(60_000);
const Decimal = DecimalJs.clone({ precision: 100 });

const USAGE_QUEUE = uniqueQueueName();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const XSS_NAME = '<img src=x onerror=alert(1)>';
const USAGE_HEADER =
  'event_id,account_id,occurred_at,model,endpoint,rate_card_version,input_tokens,cached_input_tokens,output_tokens,cache_reported,cost,ledger_entry_id,received_at';
const EXTRA_MODEL_COST = '0.000000000000000001';

let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let server: ApiProcess;
let worker: INestApplicationContext;
let queue: Queue;
let browser: Browser;
let db: pg.Client;
const outside: string[] = [];
const seen: SeenRequest[] = [];
/** Every key and token the browser was given: none may show up in a URL, a Referer or the server's log. */
const secrets: string[] = [];

const fx = {
  a: '',
  aName: 'Acme Analytics',
  aKey: '',
  b: '',
  bName: 'Borealis Secret Labs',
  bKey: '',
  x: '',
  xKey: '',
  aEvents: [] as { event_id: string; occurred_at: string }[],
  /** the UTC day (ISO midnight) that also has a second model's rollup */
  extraDay: '',
  /** a session valid 60 s, made last in beforeAll, opened by the first test and again after it expired */
  short: { url: '', expiresAt: 0 },
};

const api = () => request(server.base);

/** The exact dollars a person should read for an API decimal: every digit kept, at least two decimals, grouped. */
function usd(value: string, signed = false): string {
  const d = new Decimal(value);
  const [integer, fraction = ''] = d.abs().toFixed().split('.');
  const sign = d.isNeg() && !d.isZero() ? '\u2212' : signed && !d.isZero() ? '+' : '';
  return `${sign}$${integer.replace(/\B(?=(\d{3})+$)/g, ',')}.${fraction.padEnd(2, '0')}`;
}

const dayLabel = (iso: string) => new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric' }).format(new Date(iso));

async function newPage(): Promise<Page> {
  const { context } = await guardedContext(browser, outside, seen);
  const page = await context.newPage();
  page.on('dialog', (dialog) => {
    throw new Error(`the page opened a dialog: ${dialog.message()}`);
  });
  return page;
}

async function signIn(page: Page, accountId: string, key: string): Promise<void> {
  secrets.push(key);
  await page.goto(`${server.base}/portal/`);
  await page.getByLabel('Account ID').fill(accountId);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function signedIn(page: Page, accountId = fx.a, key = fx.aKey): Promise<void> {
  await signIn(page, accountId, key);
  await page.getByTestId('balance').waitFor();
}

const shot = (page: Page, name: string, fullPage = true) => page.screenshot({ path: screenshotPath(name), fullPage });

/** The balance card against GET /balance: balance, and held and available exactly when the API sends them. */
async function expectBalanceCard(page: Page, balance: { balance: string; status: string; held?: string; available?: string }): Promise<void> {
  expect(await page.getByTestId('balance').textContent()).toBe(usd(balance.balance));
  expect(await page.getByTestId('status').textContent()).toBe(balance.status === 'depleted' ? 'Depleted' : 'Active');
  for (const field of ['held', 'available'] as const) {
    if (balance[field] === undefined) expect(await page.getByTestId(field).count()).toBe(0);
    else expect(await page.getByTestId(field).textContent()).toBe(usd(balance[field]!));
  }
}

/** Per period, the API's rows added up with decimal.js: what each chart point must say. */
async function apiPoints(range: { from: string; to: string; granularity: string }): Promise<Map<string, string>> {
  const res = await api().get(`/v1/accounts/${fx.a}/usage`).query(range).set(bearer(fx.aKey)).expect(200);
  const sums = new Map<string, DecimalJs>();
  for (const row of res.body.data as { period_start: string; cost: string }[]) sums.set(row.period_start, (sums.get(row.period_start) ?? new Decimal(0)).plus(row.cost));
  return new Map([...sums.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, v.toFixed()]));
}

function last30Days() {
  const now = new Date();
  const tomorrow = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return { from: new Date(tomorrow - 30 * DAY).toISOString(), to: new Date(tomorrow).toISOString(), granularity: 'day' };
}

async function newSession(accountId: string, ttl?: number): Promise<{ url: string; token: string; expires_at: string }> {
  const res = await api().post(`/v1/accounts/${accountId}/portal-sessions`).set(ADMIN).send(ttl ? { ttl_seconds: ttl } : {}).expect(201);
  const token = new URLSearchParams(new URL(res.body.url).hash.slice(1)).get('session')!;
  secrets.push(token);
  return { ...res.body, token };
}

async function axeSerious(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join('; ')})`);
}

beforeAll(async () => {
  scratch = await scratchDatabase();
  server = await startApiProcess({ USAGE_QUEUE, DATABASE_URL: scratch.url });
  worker = await startWorker({ USAGE_QUEUE, DATABASE_URL: scratch.url });
  queue = producer(USAGE_QUEUE);
  db = new pg.Client({ connectionString: scratch.url });
  await db.connect();
  browser = await launchChromium();

  const account = async (name: string) => (await api().post('/v1/accounts').set(ADMIN).send({ account_id: uniqueId('portal'), name }).expect(201)).body.account_id as string;
  const key = async (id: string) => (await api().post(`/v1/accounts/${id}/api-keys`).set(ADMIN).expect(201)).body.secret as string;
  const credit = (id: string, amount: string, kind: string, reference?: string) =>
    api().post(`/v1/accounts/${id}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId('idem')).send({ amount, kind, reference }).expect(201);
  fx.a = await account(fx.aName);
  fx.b = await account(fx.bName);
  fx.x = await account(XSS_NAME);
  [fx.aKey, fx.bKey, fx.xKey] = [await key(fx.a), await key(fx.b), await key(fx.x)];
  await credit(fx.a, '25.00', 'purchase', 'order-1001');
  await credit(fx.a, '5.5', 'promotional', 'welcome');
  for (let i = 0; i < 22; i++) await credit(fx.a, '0.01', 'promotional', `referral-${i}`);
  await credit(fx.b, '99.00', 'purchase');

  // A: two events on each of five days of the last 30 (today's within the last 48 hours), B: three now.
  const now = Date.now();
  const events = [0, 1, 3, 7, 12].flatMap((d, i) =>
    [0, 1].map((k) => ({
      event_id: eventId(),
      account_id: fx.a,
      model: 'qwen3-5-4b',
      endpoint: '/v1/chat/completions',
      occurred_at: new Date(now - d * DAY - 10 * 60_000 - k * 50 * 60_000).toISOString(),
      usage: { prompt_tokens: 1000 + 137 * i + k, completion_tokens: 200 + 31 * i, prompt_tokens_details: { cached_tokens: (i % 3) * 100 } },
    })),
  );
  fx.aEvents = events.map(({ event_id, occurred_at }) => ({ event_id, occurred_at }));
  const bEvents = [1, 2, 3].map((m) => ({ ...events[0], event_id: eventId(), account_id: fx.b, occurred_at: new Date(now - m * 60_000).toISOString() }));
  await api().post('/v1/usage-events').set(ADMIN).send({ events: [...events, ...bEvents] }).expect(202).expect((res) => expect(res.body.rejected).toEqual([]));
  await drained(queue);

  // A second model's usage in the hour of one of A's events: that day's cost is a sum of two rows.
  const extraHour = new Date(Math.floor(Date.parse(events[4].occurred_at) / HOUR) * HOUR);
  fx.extraDay = new Date(Date.UTC(extraHour.getUTCFullYear(), extraHour.getUTCMonth(), extraHour.getUTCDate())).toISOString();
  await db.query(
    `INSERT INTO usage_rollups (account_id, hour, model_id, rate_card_version, requests, input_tokens, cached_input_tokens, output_tokens, cost)
     VALUES ($1, $2, 'qwen3-5-4b-preview', 1, 1, 0, 0, 0, $3)`,
    [fx.a, extraHour, EXTRA_MODEL_COST],
  );
  for (const period of new Set(events.map((e) => e.occurred_at.slice(0, 7)))) await api().post('/v1/invoices/generate').set(ADMIN).send({ period }).expect(200);
  const link = await newSession(fx.a, 60);
  fx.short = { url: link.url, expiresAt: Date.parse(link.expires_at) };
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await db?.end();
  await queue?.close();
  await worker?.close();
  await server?.stop();
  await scratch?.drop();
});

// First, so that most of the file runs while the 60-second session it opens is waiting to expire.
describe('a portal session link', () => {
  it('opens the account from a link, read-only, and takes the token out of the address bar', async () => {
    const page = await newPage();
    await page.goto(fx.short.url);
    await page.getByTestId('balance').waitFor();
    expect(await page.getByTestId('account-name').textContent()).toBe(fx.aName);
    expect(await page.getByText('Read-only link').count()).toBe(1);
    expect(page.url()).toBe(`${server.base}/portal/`);
    await page.getByTestId('usage-chart').locator('canvas').waitFor();
    await shot(page, 'session');
    await page.close();
  });

});

describe('signing in with an account key', () => {
  it('shows the balance exactly as the API gives it (held and available too, when the API has them), kept in sessionStorage only', async () => {
    const page = await newPage();
    await signedIn(page);
    const balance = (await api().get(`/v1/accounts/${fx.a}/balance`).set(bearer(fx.aKey)).expect(200)).body;
    await expectBalanceCard(page, balance);
    expect(await page.getByTestId('account-name').textContent()).toBe(fx.aName);
    await page.getByTestId('usage-chart').locator('canvas').waitFor();
    await page.getByTestId('ledger-row').first().waitFor();
    await page.getByTestId('invoice-row').first().waitFor();
    await shot(page, 'dashboard');
    const storage = await page.evaluate("({ local: localStorage.length, cookie: document.cookie, session: Object.values(sessionStorage).join(' ') })");
    expect(storage).toEqual({ local: 0, cookie: '', session: expect.stringContaining(fx.aKey) });
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await page.close();
  });
});

describe('the usage chart', () => {
  it('draws one point per day with usage, and its tooltip shows the exact cost of a chosen day', async () => {
    const expected = await apiPoints(last30Days());
    const days = [...expected.keys()];
    expect(days.length).toBe(new Set(fx.aEvents.map((e) => e.occurred_at.slice(0, 10))).size);
    expect(expected.get(fx.extraDay)).toMatch(/\.\d{17}1$/);

    const page = await newPage();
    await signedIn(page);
    const chart = page.getByTestId('usage-chart');
    await chart.locator('canvas').waitFor();
    expect(await chart.getAttribute('data-points')).toBe(String(days.length));
    await page.getByText('Show these figures as a table').click();
    expect(await page.getByTestId('usage-row').count()).toBe(days.length);

    // By keyboard: Home is the first day with usage, each arrow the next one.
    await chart.focus();
    await page.keyboard.press('Home');
    for (let i = 0; i < days.indexOf(fx.extraDay); i++) await page.keyboard.press('ArrowRight');
    expect(await page.getByTestId('tooltip-period').textContent()).toBe(dayLabel(fx.extraDay));
    expect(await page.getByTestId('tooltip-cost').textContent()).toBe(usd(expected.get(fx.extraDay)!));
    await shot(page, 'usage-days-tooltip', false);

    // By mouse: every day with usage the pointer passes shows that day's exact cost.
    const over = (await page.locator('.u-over').boundingBox())!;
    const read = new Map<string, string>();
    for (let x = 1; x < over.width; x += 6) {
      await page.mouse.move(over.x + x, over.y + over.height / 2);
      const cost = page.getByTestId('tooltip-cost');
      if (await cost.count()) read.set((await page.getByTestId('tooltip-period').textContent())!, (await cost.textContent())!);
    }
    expect(read).toEqual(new Map(days.map((d) => [dayLabel(d), usd(expected.get(d)!)])));
    await page.close();
  });

  it('switches to the hours of the last 48, one point per hour with usage', async () => {
    const now = new Date();
    const nextHour = Math.floor(now.getTime() / HOUR) * HOUR + HOUR;
    const expected = await apiPoints({ from: new Date(nextHour - 48 * HOUR).toISOString(), to: new Date(nextHour).toISOString(), granularity: 'hour' });
    expect(expected.size).toBeGreaterThanOrEqual(2);
    const page = await newPage();
    await signedIn(page);
    await page.getByRole('button', { name: 'Last 48 hours' }).click();
    const chart = page.getByTestId('usage-chart');
    await page.locator(`[data-testid=usage-chart][data-points="${expected.size}"]`).waitFor();
    expect(await page.getByRole('button', { name: 'Last 48 hours' }).getAttribute('aria-pressed')).toBe('true');
    await chart.focus();
    await page.keyboard.press('End');
    expect(await page.getByTestId('tooltip-cost').textContent()).toBe(usd([...expected.values()].at(-1)!));
    await shot(page, 'usage-hours', false);
    await page.close();
  });
});

describe('the ledger', () => {
  it('lists entries newest first with their kind, a page at a time', async () => {
    const first = (await api().get(`/v1/accounts/${fx.a}/ledger`).query({ limit: 20 }).set(bearer(fx.aKey)).expect(200)).body;
    const second = (await api().get(`/v1/accounts/${fx.a}/ledger`).query({ limit: 20, cursor: first.next_cursor }).set(bearer(fx.aKey)).expect(200)).body;
    expect(second.data.length).toBeGreaterThan(0);
    const page = await newPage();
    await signedIn(page);
    const rows = page.getByTestId('ledger-row');
    const shown = async () =>
      rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute('data-entry-id'), tr.children[1].textContent, tr.children[3].textContent]));
    const wanted = (entries: { entry_id: string; kind: string; amount: string }[]) =>
      entries.map((e) => [e.entry_id, e.kind.charAt(0).toUpperCase() + e.kind.slice(1), usd(e.amount, true)]);
    await rows.first().waitFor();
    expect(await shown()).toEqual(wanted(first.data));
    const ids = first.data.map((e: { entry_id: string }) => BigInt(e.entry_id));
    expect(ids).toEqual([...ids].sort((x, y) => (x < y ? 1 : -1)));
    await shot(page, 'ledger');
    await page.getByRole('button', { name: 'Older →' }).click();
    await page.locator(`[data-testid=ledger-row][data-entry-id="${second.data[0].entry_id}"]`).waitFor();
    expect(await shown()).toEqual(wanted(second.data));
    expect(await page.getByTestId('ledger-page').textContent()).toBe('Page 2');
    await page.getByRole('button', { name: '← Newer' }).click();
    await page.locator(`[data-testid=ledger-row][data-entry-id="${first.data[0].entry_id}"]`).waitFor();
    expect(await shown()).toEqual(wanted(first.data));
    await page.close();
  });
});

describe('credits and holds', () => {
  it("shows the account's real grants with amount and remaining, newest first, and the real held and available", async () => {
    // A grant that expires and a hold, through the API, so the balance card has all its figures.
    const expires = new Date(Date.now() + 2 * DAY).toISOString();
    await api().post(`/v1/accounts/${fx.a}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId('idem')).send({ amount: '0.5', kind: 'promotional', expires_at: expires }).expect(201);
    await api().post(`/v1/accounts/${fx.a}/holds`).set(ADMIN).send({ amount: '0.75', ttl_seconds: 3600 }).expect(201);
    const grants = (await api().get(`/v1/accounts/${fx.a}/grants`).query({ limit: 100 }).set(bearer(fx.aKey)).expect(200)).body.data as { amount: string; remaining: string }[];
    expect(grants).toHaveLength(25);
    const balance = (await api().get(`/v1/accounts/${fx.a}/balance`).set(bearer(fx.aKey)).expect(200)).body;
    expect(balance).toMatchObject({ held: '0.75', next_expiry: { at: expires, amount: '0.5' } });
    const page = await newPage();
    await signedIn(page);
    const rows = page.getByTestId('grant-row');
    await rows.first().waitFor();
    expect(await rows.evaluateAll((trs) => trs.map((tr) => [tr.children[1].textContent, tr.children[2].textContent]))).toEqual(grants.map((g) => [usd(g.amount), usd(g.remaining)]));
    await expectBalanceCard(page, balance);
    expect(await page.getByTestId('next-expiry').textContent()).toBe(`${usd('0.5')} of credit expires on ${dayLabel(expires)}.`);
    expect(await page.getByTestId('soonest-expiry').textContent()).toBe(`Next to expire: ${usd('0.5')} on ${dayLabel(expires)}.`);
    await page.close();
  });

  it('shows grants with amount, remaining and expiry, the soonest expiry highlighted (grants answered by the test)', async () => {
    const at = (days: number) => new Date(Date.now() + days * DAY).toISOString();
    const grant = (id: string, fields: Record<string, unknown>) => ({
      grant_id: id, account_id: fx.a, credit_kind: 'purchase', amount: '25', remaining: '25', priority: 50, expires_at: null, status: 'active', created_at: at(-20), entry_id: id.slice(3), ...fields,
    });
    const grants = [
      grant('gr_4', { credit_kind: 'promotional', amount: '10', remaining: '9.999999999999999999', expires_at: at(30) }),
      grant('gr_3', { credit_kind: 'promotional', amount: '5.5', remaining: '1.25', expires_at: at(3) }),
      grant('gr_2', { amount: '25', remaining: '0', expires_at: at(1), status: 'used' }),
      grant('gr_1', { amount: '100', remaining: '42.5' }),
    ];
    const page = await newPage();
    await page.route('**/v1/accounts/*/grants*', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ data: grants, next_cursor: null }) }));
    await signedIn(page);
    const rows = page.getByTestId('grant-row');
    await rows.first().waitFor();
    expect(await rows.evaluateAll((trs) => trs.map((tr) => [tr.children[1].textContent, tr.children[2].textContent]))).toEqual(grants.map((g) => [usd(g.amount), usd(g.remaining)]));
    const soonest = page.locator('[data-soonest=true]');
    expect(await soonest.count()).toBe(1);
    expect(await soonest.textContent()).toContain(dayLabel(at(3)));
    expect(await page.getByTestId('soonest-expiry').textContent()).toBe(`Next to expire: ${usd('1.25')} on ${dayLabel(at(3))}.`);
    await page.getByTestId('grants-card').screenshot({ path: screenshotPath('grants') });
    await page.close();
  });

  it('shows held and available, and the next expiry, to the last digit (the balance answered by the test)', async () => {
    const real = (await api().get(`/v1/accounts/${fx.a}/balance`).set(bearer(fx.aKey)).expect(200)).body;
    const held = '1.234567890123456789';
    const withHolds = { ...real, held, available: new Decimal(real.balance).minus(held).toFixed(), next_expiry: { at: new Date(Date.now() + 3 * DAY).toISOString(), amount: '1.25' } };
    const page = await newPage();
    await page.route('**/v1/accounts/*/balance', (route) => route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(withHolds) }));
    await signedIn(page);
    await expectBalanceCard(page, withHolds);
    expect(await page.getByTestId('next-expiry').textContent()).toBe(`${usd('1.25')} of credit expires on ${dayLabel(withHolds.next_expiry.at)}.`);
    await page.getByTestId('balance-card').screenshot({ path: screenshotPath('holds') });
    await page.close();
  });
});

describe('documents', () => {
  it('downloads an invoice PDF that starts with %PDF-', async () => {
    const page = await newPage();
    await signedIn(page);
    const button = page.getByRole('button', { name: /^Download invoice INV-/ }).first();
    await button.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), button.click()]);
    expect(download.suggestedFilename()).toMatch(/^INV-\d{4}-\d{2}-\d{6,}\.pdf$/);
    expect(readFileSync((await download.path())!).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    await page.close();
  });

  it("downloads the account's usage CSV with the header and one row per event of the chosen days", async () => {
    const page = await newPage();
    await signedIn(page);
    const first = fx.aEvents.map((e) => e.occurred_at.slice(0, 10)).sort()[0];
    await page.getByLabel('First day').fill(first);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()]);
    const text = readFileSync((await download.path())!, 'utf8');
    expect(text.split('\r\n')[0]).toBe(USAGE_HEADER);
    const rows = parse(text, { columns: true }) as { event_id: string; account_id: string }[];
    expect(rows.map((r) => r.event_id).sort()).toEqual(fx.aEvents.map((e) => e.event_id).sort());
    await page.close();
  });
});

describe('portal sessions', () => {
  it('shows nothing of another account when the link is changed, and says why', async () => {
    const link = await newSession(fx.a);
    const page = await newPage();
    const error = page.getByTestId('sign-in-error');
    const open = async (fragment: string) => {
      await page.goto('about:blank');
      await page.goto(`${server.base}/portal/#${fragment}`);
      await error.waitFor();
      expect(await page.content()).not.toContain(fx.bName);
      expect(await page.getByTestId('balance').count()).toBe(0);
      return error.textContent();
    };
    const [answer] = await Promise.all([
      page.waitForResponse((r) => r.url().includes(`/v1/accounts/${fx.b}`)),
      open(`account=${fx.b}&session=${link.token}`),
    ]);
    expect(answer.status()).toBe(403);
    expect(await error.textContent()).toBe(`This portal link does not open account “${fx.b}”. Ask for a new link.`);
    const altered = link.token.slice(0, -1) + (link.token.endsWith('A') ? 'B' : 'A');
    expect(await open(`account=${fx.a}&session=${altered}`)).toBe('This portal link has expired or is not valid. Ask for a new link, or sign in with an API key.');
    expect(await open(`account=${fx.a}&session=${link.token.slice(0, 20)}`)).toBe(
      'This portal link is not valid: it may have been cut short or changed. Ask for a new link, or sign in with an API key.',
    );
    await shot(page, 'sign-in-bad-link', false);

    // A session that expired an hour ago, put straight into the table.
    const id = randomBytes(8).toString('hex');
    const expired = `ps_${id}_${randomBytes(32).toString('base64url')}`;
    secrets.push(expired);
    await db.query(
      "INSERT INTO portal_sessions (session_id, account_id, secret_hash, created_at, expires_at) VALUES ($1, $2, $3, now() - interval '2 hours', now() - interval '1 hour')",
      [`ps_${id}`, fx.a, createHash('sha256').update(expired).digest()],
    );
    expect(await open(`account=${fx.a}&session=${expired}`)).toBe('This portal link has expired or is not valid. Ask for a new link, or sign in with an API key.');
    await page.close();
  });

  it("shows nothing of another account when its id is typed with one's own key (403), and says so", async () => {
    const page = await newPage();
    const [answer] = await Promise.all([page.waitForResponse((r) => r.url().endsWith(`/v1/accounts/${fx.b}`)), signIn(page, fx.b, fx.aKey)]);
    expect(answer.status()).toBe(403);
    const error = page.getByTestId('sign-in-error');
    await error.waitFor();
    expect(await error.textContent()).toBe(`This key may not read account “${fx.b}”. Check the account ID: a key opens its own account only.`);
    expect(await page.content()).not.toContain(fx.bName);
    expect(await page.content()).not.toContain('99.00');
    await shot(page, 'sign-in-other-account', false);
    await page.close();
  });

  it('says so when a key is wrong, or is not an account key', async () => {
    const page = await newPage();
    const error = page.getByTestId('sign-in-error');
    await signIn(page, fx.a, `bk_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`);
    await error.filter({ hasText: 'not accepted' }).waitFor();
    expect(await error.textContent()).toBe('That API key was not accepted: it may be mistyped or revoked.');
    await shot(page, 'sign-in-wrong-key', false);
    await signIn(page, fx.a, process.env.ADMIN_API_KEY!);
    await error.filter({ hasText: 'bk_' }).waitFor();
    expect(await error.textContent()).toBe('Enter an account API key: it starts with bk_ and is 64 characters long.');
    await page.close();
  });
});

describe('hostile and edge input', () => {
  it('shows an account named <img src=x onerror=alert(1)> as text, and makes a depleted balance obvious', async () => {
    const page = await newPage();
    await signedIn(page, fx.x, fx.xKey);
    expect(await page.getByTestId('account-name').textContent()).toBe(XSS_NAME);
    expect(await page.locator('img').count()).toBe(0);
    expect(await page.locator('[onerror]').count()).toBe(0);
    expect(await page.getByTestId('status').textContent()).toBe('Depleted');
    expect(await page.getByTestId('depleted').textContent()).toContain('requests are not being served');
    await page.getByTestId('usage-chart').waitFor();
    await shot(page, 'depleted');
    await page.close();
  });
});

describe('keyboard and accessibility', () => {
  /** Presses Tab until the element is focused (at most 80 times). */
  async function tabTo(page: Page, target: ReturnType<Page['locator']>): Promise<void> {
    for (let i = 0; i < 80; i++) {
      await page.keyboard.press('Tab');
      if (await target.evaluate((el) => el === el.ownerDocument.activeElement)) return;
    }
    throw new Error('never reached by Tab');
  }

  it('works by keyboard alone: sign in, switch the chart, read a point, page the ledger, download a PDF and the CSV', async () => {
    const page = await newPage();
    secrets.push(fx.aKey);
    await page.goto(`${server.base}/portal/`);
    await tabTo(page, page.getByLabel('Account ID'));
    await page.keyboard.type(fx.a);
    await page.keyboard.press('Tab');
    await page.keyboard.type(fx.aKey);
    await page.keyboard.press('Enter');
    await page.getByTestId('balance').waitFor();
    const hours = page.getByRole('button', { name: 'Last 48 hours' });
    const days = await page.getByTestId('usage-chart').elementHandle();
    await tabTo(page, hours);
    await page.keyboard.press('Enter');
    expect(await hours.getAttribute('aria-pressed')).toBe('true');
    // The 30 days' chart stays on screen for a frame after the switch, then goes while the hours
    // load: an arrow key in that frame, or on the hours' chart before it is drawn, reads nothing.
    await days!.waitForElementState('hidden');
    await page.getByTestId('usage-chart').locator('canvas').waitFor();
    await tabTo(page, page.getByTestId('usage-chart'));
    await page.keyboard.press('ArrowLeft');
    expect(await page.getByTestId('tooltip-cost').textContent()).toMatch(/^\$\d+\.\d{2,}$/);
    await tabTo(page, page.getByRole('button', { name: 'Older →' }));
    await page.keyboard.press('Enter');
    await page.getByTestId('ledger-page').filter({ hasText: 'Page 2' }).waitFor();
    const pdf = page.getByRole('button', { name: /^Download invoice INV-/ }).first();
    await tabTo(page, pdf);
    const [invoice] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    expect(invoice.suggestedFilename()).toMatch(/\.pdf$/);
    await tabTo(page, page.getByRole('button', { name: 'Download CSV' }));
    const [csv] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    expect(csv.suggestedFilename()).toMatch(/^usage-.*\.csv$/);
    await page.keyboard.press('Shift+Tab');
    await shot(page, 'keyboard', false);
    await page.close();
  });

  it('has no serious or critical accessibility violation (axe) on any view', async () => {
    const page = await newPage();
    await page.goto(`${server.base}/portal/`);
    await page.getByLabel('API key').waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await signIn(page, fx.b, fx.aKey);
    await page.getByTestId('sign-in-error').waitFor();
    expect(await axeSerious(page)).toEqual([]);
    await signedIn(page);
    await page.getByTestId('invoice-row').first().waitFor();
    await page.getByTestId('usage-chart').locator('canvas').waitFor();
    await page.getByTestId('usage-chart').focus();
    await page.keyboard.press('End');
    expect(await axeSerious(page)).toEqual([]);
    await page.getByRole('button', { name: 'Last 48 hours' }).click();
    await page.getByText('Show these figures as a table').click();
    expect(await axeSerious(page)).toEqual([]);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signedIn(page, fx.x, fx.xKey);
    expect(await axeSerious(page)).toEqual([]);
    await page.close();
  });
});

describe('expiry, and what never leaves', () => {
  it('a portal session stops working at its expiry: the open page signs out, and the link no longer opens', async () => {
    expect(fx.short.url).not.toBe('');
    const page = await newPage();
    await page.goto(fx.short.url);
    await page.getByTestId('balance').waitFor();
    const wait = fx.short.expiresAt + 1_000 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    await page.getByRole('button', { name: 'Refresh' }).click();
    const error = page.getByTestId('sign-in-error');
    await error.waitFor();
    expect(await error.textContent()).toBe('This portal link has expired or is not valid. Ask for a new link, or sign in with an API key.');
    expect(await page.getByTestId('balance').count()).toBe(0);
    await page.goto('about:blank');
    await page.goto(fx.short.url);
    await error.waitFor();
    expect(await page.getByTestId('balance').count()).toBe(0);
    await shot(page, 'session-expired', false);
    await page.close();
  }, 120_000);

  it('sent no request outside 127.0.0.1, and no key or token in a URL, a Referer or the server log', () => {
    expect(outside).toEqual([]);
    expect(seen.length).toBeGreaterThan(50);
    const leaks = seen.filter((r) => secrets.some((s) => r.url.includes(s) || (r.headers.referer ?? '').includes(s))).map((r) => r.url);
    expect(leaks).toEqual([]);
    const log = server.output();
    expect(log).toContain('"url":"/v1/accounts/');
    expect(secrets.filter((s) => log.includes(s) || (/^(bk|ps)_/.test(s) && log.includes(s.slice(20))))).toEqual([]);
  });
});
