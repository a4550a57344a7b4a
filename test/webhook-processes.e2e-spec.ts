import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { DataSource } from 'typeorm';
import { uniqueQueueName } from './support/api.js';
import { type ApiProcess, startApiProcess } from './support/api-process.js';
import { uniqueId, usageEvent } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';
import { until } from './support/until.js';
import { type Message, WebhookReceiver } from '../bench/webhook-receiver.js';
import { COSTLY_USAGE } from './support/webhooks.js';

/**
 * Webhooks across real processes (dist/): a worker SIGKILLed while a delivery is in flight, events
 * written while no worker runs, and an API SIGKILLed right after writing events, then started
 * again. Every event arrives, verified, under one webhook-id each (a try cut by the kill may come
 * again, under the same id: receivers dedupe on it).
 */
const ADMIN = { authorization: `Bearer ${process.env.ADMIN_API_KEY}`, 'content-type': 'application/json' };
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let db: DataSource;
let api: ApiProcess;
let receiver: WebhookReceiver;
const USAGE_QUEUE = uniqueQueueName();
const children: ChildProcess[] = [];

function worker(): ChildProcess {
  const child = spawn(process.execPath, ['dist/apps/worker/src/main.js'], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: scratch.url,
      REDIS_URL: process.env.REDIS_URL,
      QUEUE_PREFIX: process.env.QUEUE_PREFIX,
      USAGE_QUEUE,
      SECRETS_KEY: process.env.SECRETS_KEY,
      WEBHOOK_TIMEOUT_MS: '1000',
      LOG_LEVEL: 'warn',
    },
    stdio: 'ignore',
  });
  children.push(child);
  return child;
}

async function kill(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  await exited;
}

const call = async (path: string, method = 'GET', body?: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(`${api.base}${path}`, { method, headers: { ...ADMIN, ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (res.status === 204 ? null : await res.json()) as Record<string, any> };
};

async function account(amount: string): Promise<string> {
  const account_id = uniqueId('proc');
  expect((await call('/v1/accounts', 'POST', { account_id, name: 'Processes' })).status).toBe(201);
  expect((await call(`/v1/accounts/${account_id}/credits`, 'POST', { amount, kind: 'purchase' }, { 'idempotency-key': uniqueId('idem') })).status).toBe(201);
  return account_id;
}
const decline = async (accountId: string, hold_id: string) => expect((await call(`/v1/accounts/${accountId}/holds`, 'POST', { hold_id, amount: '1000' })).status).toBe(402);
const about = (accountId: string): Message[] => receiver.delivered().filter((m) => m.data.account_id === accountId);

beforeAll(async () => {
  scratch = await scratchDatabase();
  db = await new DataSource({ type: 'postgres', url: scratch.url }).initialize();
  api = await startApiProcess({ DATABASE_URL: scratch.url, USAGE_QUEUE });
  receiver = await new WebhookReceiver().start();
  const endpoint = await call('/v1/webhook-endpoints', 'POST', { url: receiver.url() });
  expect(endpoint.status).toBe(201);
  receiver.trust(endpoint.body.secret);
}, 60_000);

afterAll(async () => {
  for (const child of children) await kill(child);
  await api?.stop();
  await receiver?.stop();
  await db?.destroy();
  await scratch?.drop();
});

describe('webhooks across process kills and restarts', () => {
  it('delivers everything after a worker is SIGKILLed mid-delivery, and what happened while none ran', async () => {
    const accountId = await account('1');
    let w = worker();
    await until(() => about(accountId).length === 1, 'balance.recovered of the new account');
    receiver.fail('hang');
    await decline(accountId, 'h-0');
    await until(() => receiver.requests.some((r) => r.answered === null), 'a delivery in flight');
    await kill(w);
    // While no worker runs: more declines, and usage (queued by the API) that takes the balance to zero.
    for (const hold of ['h-1', 'h-2', 'h-3']) await decline(accountId, hold);
    const events = Array.from({ length: 83 }, () => usageEvent(accountId, { usage: COSTLY_USAGE })); // 83 x 0.0121 = 1.0043
    expect((await call('/v1/usage-events', 'POST', { events })).status).toBe(202);
    w = worker();
    await until(() => about(accountId).length === 6, 'every event of the account', 30_000);
    const messages = about(accountId);
    expect(messages.map((m) => [m.type, m.data.hold_id ?? m.data.balance])).toEqual([
      ['balance.recovered', '1'],
      ['hold.declined', 'h-0'],
      ['hold.declined', 'h-1'],
      ['hold.declined', 'h-2'],
      ['hold.declined', 'h-3'],
      ['balance.depleted', '-0.0043'],
    ]);
    // The try the kill cut short came again under the same webhook-id; every request verified.
    expect(receiver.triesOf(messages[1].id).map((t) => t.answered)).toEqual([null, 200]);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM webhook_events WHERE account_id = $1`, [accountId]);
    expect(n).toBe(6);
    await kill(w, 'SIGTERM');
  }, 60_000);

  it('keeps what the API wrote just before it was SIGKILLed, and signs with the secret it issued after a restart', async () => {
    const accountId = await account('0.5');
    await decline(accountId, 'before-kill');
    await api.kill();
    api = await startApiProcess({ DATABASE_URL: scratch.url, USAGE_QUEUE });
    await decline(accountId, 'after-restart');
    expect((await call('/v1/webhook-endpoints')).body.data).toHaveLength(1);
    const w = worker();
    await until(() => about(accountId).length === 3, 'the events written around the restart', 20_000);
    expect(about(accountId).map((m) => m.data.hold_id ?? m.type)).toEqual(['balance.recovered', 'before-kill', 'after-restart']);
    expect(receiver.requests.every((r) => r.verified)).toBe(true);
    await kill(w, 'SIGTERM');
  }, 60_000);
});
