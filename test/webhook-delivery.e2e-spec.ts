import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { ADMIN, startApi, startWorker, uniqueQueueName } from './support/api.js';
import { createAccount, credit, uniqueId } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';
import { type Stack, scratchStack } from './support/stack.js';
import { until } from './support/until.js';
import { WebhookReceiver } from '../bench/webhook-receiver.js';
import { aboutAccount, messagesAbout, registerEndpoint } from './support/webhooks.js';

/**
 * Delivery against a real receiver and its faults: it refuses what does not verify, answers 500,
 * hangs past the timeout, goes down and comes back; and ordering, a slow endpoint beside a quick
 * one, rotation, manual retry, giving up, and the address check at delivery. Events here are
 * hold.declined (a 402 writes one at once). A database of its own.
 */
const TIMEOUT_MS = 1_000;
let stack: Stack;
let db: DataSource;

beforeAll(async () => {
  stack = await scratchStack({ WEBHOOK_TIMEOUT_MS: TIMEOUT_MS });
  db = stack.db;
}, 60_000);
afterAll(() => stack?.close());

const http = () => stack.api.http();

/** An account with $1 and nothing held: every hold of more than $1 is declined. */
async function account(): Promise<string> {
  const { account_id } = await createAccount(stack.api);
  await credit(stack.api, account_id, '1');
  return account_id;
}
const decline = (accountId: string, holdId = uniqueId('h')) => http().post(`/v1/accounts/${accountId}/holds`).set(ADMIN).send({ hold_id: holdId, amount: '5' }).expect(402);

/** A receiver with an endpoint of its own for hold.declined, deleted afterwards. */
async function withEndpoint(fn: (receiver: WebhookReceiver, endpoint: { endpoint_id: string; secret: string }) => Promise<void>, events = ['hold.declined']) {
  const receiver = await new WebhookReceiver().start();
  const endpoint = await registerEndpoint(stack.api, receiver, events);
  try {
    await fn(receiver, endpoint);
  } finally {
    await http().delete(`/v1/webhook-endpoints/${endpoint.endpoint_id}`).set(ADMIN).expect(204);
    await receiver.stop();
  }
}

const deliveriesOf = async (endpointId: string) => (await http().get(`/v1/webhook-endpoints/${endpointId}/deliveries`).set(ADMIN).expect(200)).body.data as {
  delivery_id: string;
  event_id: string;
  status: string;
  attempts: { attempted_at: string; status_code: number | null; error: string | null; duration_ms: number }[];
}[];

/** The one message about the account, once delivered; its tries as the receiver saw them. */
async function oneDelivered(receiver: WebhookReceiver, accountId: string, timeoutMs = 20_000) {
  const [message] = await messagesAbout(receiver, accountId, 1, timeoutMs);
  return { message, tries: receiver.triesOf(message.id) };
}

describe('a receiver with faults', () => {
  it('refuses what does not verify (401), and gets it on a retry within 10 s once it holds the secret', async () => {
    await withEndpoint(async (receiver, endpoint) => {
      // The receiver is not a yes-man: a forged request is refused.
      const forged = await fetch(receiver.url(), {
        method: 'POST',
        headers: { 'webhook-id': 'evt_forged', 'webhook-timestamp': String(Math.floor(Date.now() / 1000)), 'webhook-signature': 'v1,AAAA', 'content-type': 'application/json' },
        body: '{"type":"balance.low","timestamp":"2026-12-01T00:00:00.000Z","data":{}}',
      });
      expect(forged.status).toBe(401);

      receiver.trust('whsec_' + Buffer.alloc(32, 9).toString('base64')); // not the endpoint's
      const accountId = await account();
      await decline(accountId);
      await until(() => receiver.requests.some((r) => !r.verified && r.id !== 'evt_forged'), 'an unverified delivery');
      receiver.trust(endpoint.secret);
      const { message, tries } = await oneDelivered(receiver, accountId);
      expect(tries.map((t) => [t.verified, t.answered])).toEqual([
        [false, 401],
        [true, 200],
      ]);
      expect(tries[1].at - tries[0].at).toBeGreaterThan(3_000);
      expect(tries[1].at - tries[0].at).toBeLessThan(10_000);
      const [delivery] = (await deliveriesOf(endpoint.endpoint_id)).filter((d) => d.event_id === message.id);
      expect(delivery).toMatchObject({ status: 'delivered', attempts: [{ status_code: 401, error: 'answered 401' }, { status_code: 200, error: null }] });
    });
  }, 40_000);

  it('answers 500, then 200: retried with the same webhook-id', async () => {
    await withEndpoint(async (receiver, endpoint) => {
      receiver.fail(500);
      const accountId = await account();
      await decline(accountId);
      const { message, tries } = await oneDelivered(receiver, accountId);
      expect(tries.map((t) => t.answered)).toEqual([500, 200]);
      expect(tries.every((t) => t.verified && t.id === message.id)).toBe(true);
      // Each try is signed at its own time.
      expect(Number(tries[1].timestamp)).toBeGreaterThan(Number(tries[0].timestamp));
      const [delivery] = await deliveriesOf(endpoint.endpoint_id);
      expect(delivery.attempts.map((a) => [a.status_code, a.error])).toEqual([
        [500, 'answered 500'],
        [200, null],
      ]);
    });
  }, 40_000);

  it('hangs past the timeout: the try is cut at WEBHOOK_TIMEOUT_MS and retried', async () => {
    await withEndpoint(async (receiver, endpoint) => {
      receiver.fail('hang');
      const accountId = await account();
      await decline(accountId);
      const { tries } = await oneDelivered(receiver, accountId);
      expect(tries.map((t) => t.answered)).toEqual([null, 200]);
      const [delivery] = await deliveriesOf(endpoint.endpoint_id);
      expect(delivery.attempts[0]).toMatchObject({ status_code: null, error: `no answer within ${TIMEOUT_MS} ms` });
      expect(delivery.attempts[0].duration_ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
      expect(delivery.attempts[0].duration_ms).toBeLessThan(TIMEOUT_MS + 1_000);
    });
  }, 40_000);

  it('goes down and comes back: what happened meanwhile arrives, in order', async () => {
    await withEndpoint(async (receiver, endpoint) => {
      await receiver.stop();
      const accountId = await account();
      const holds = [uniqueId('h'), uniqueId('h'), uniqueId('h')];
      for (const h of holds) await decline(accountId, h);
      await until(async () => (await deliveriesOf(endpoint.endpoint_id)).some((d) => d.attempts.length > 0), 'a try against the stopped receiver');
      const [failed] = (await deliveriesOf(endpoint.endpoint_id)).filter((d) => d.attempts.length > 0);
      expect(failed.attempts[0].error).toMatch(/^ECONNREFUSED/);
      await receiver.start();
      const messages = await messagesAbout(receiver, accountId, 3);
      expect(messages.map((m) => m.data.hold_id)).toEqual(holds);
    });
  }, 40_000);
});

describe('order and isolation', () => {
  it('delivers each account\'s events in the order they happened, a retry holding back the ones after it', async () => {
    await withEndpoint(async (receiver, endpoint) => {
      // Down while 12 events of each of two accounts happen, so each stream has them all queued; back
      // up, the third request is answered 500: its stream must wait for that retry before the rest.
      await receiver.stop();
      const [a, b] = [await account(), await account()];
      const sent: Record<string, string[]> = { [a]: [], [b]: [] };
      for (let i = 0; i < 12; i++) {
        for (const id of [a, b]) {
          const hold = `${id}-${String(i).padStart(2, '0')}`;
          sent[id].push(hold);
          await decline(id, hold);
        }
      }
      await until(async () => (await deliveriesOf(endpoint.endpoint_id)).filter((d) => d.attempts.length > 0).length === 2, 'a refused try on each stream');
      receiver.fail(200, 200, 500);
      await receiver.start();
      for (const id of [a, b]) expect((await messagesAbout(receiver, id, 12)).map((m) => m.data.hold_id)).toEqual(sent[id]);
      // Acknowledged in order too: no event was accepted before an earlier one of its account.
      for (const id of [a, b]) {
        const acked = receiver.requests.filter((r) => r.answered === 200 && JSON.parse(r.body).data.account_id === id).map((r) => JSON.parse(r.body).data.hold_id);
        expect(acked).toEqual(sent[id]);
      }
      expect(receiver.requests.filter((r) => r.answered === 500)).toHaveLength(1);
    });
  }, 40_000);

  it('keeps sending to a quick endpoint while another one hangs', async () => {
    const stuck = await new WebhookReceiver().start();
    const stuckEndpoint = await registerEndpoint(stack.api, stuck, ['hold.declined']);
    stuck.fail(...Array<'hang'>(100).fill('hang'));
    try {
      await withEndpoint(async (quick) => {
        const accounts = await Promise.all(Array.from({ length: 12 }, () => account()));
        const started = Date.now();
        for (const id of accounts) await decline(id);
        for (const id of accounts) await messagesAbout(quick, id, 1, 5_000);
        expect(Date.now() - started).toBeLessThan(3_000);
        // Meanwhile the stuck one got requests it never answered.
        expect(stuck.requests.length).toBeGreaterThan(0);
        expect(stuck.requests.every((r) => r.answered === null)).toBe(true);
      });
    } finally {
      await http().delete(`/v1/webhook-endpoints/${stuckEndpoint.endpoint_id}`).set(ADMIN).expect(204);
      await stuck.stop();
    }
  }, 40_000);
});

describe('secrets, manual retries and giving up', () => {
  it('signs with both secrets during a rotation, and with the new one alone when the old one is revoked', async () => {
    await withEndpoint(async (receiver, endpoint) => {
      const rotated = (await http().post(`/v1/webhook-endpoints/${endpoint.endpoint_id}/rotate-secret`).set(ADMIN).expect(200)).body;
      // The receiver still holds the old secret: deliveries carry both signatures, and verify.
      const first = await account();
      await decline(first);
      const { tries } = await oneDelivered(receiver, first);
      expect(tries[0].signature.split(' ')).toHaveLength(2);
      expect(tries.map((t) => t.answered)).toEqual([200]);
      // Switched to the new one: verifies too.
      receiver.trust(rotated.secret);
      const second = await account();
      await decline(second);
      expect((await oneDelivered(receiver, second)).tries.map((t) => t.answered)).toEqual([200]);
      // Rotated again with the previous one revoked at once: a receiver on the old secret refuses.
      const revoked = (await http().post(`/v1/webhook-endpoints/${endpoint.endpoint_id}/rotate-secret`).set(ADMIN).send({ previous_secret_valid_for_seconds: 0 }).expect(200)).body;
      expect(revoked.previous_secret_expires_at).toBeNull();
      const third = await account();
      await decline(third);
      await until(() => receiver.requests.some((r) => !r.verified), 'a refused delivery');
      expect(receiver.requests.filter((r) => !r.verified).every((r) => r.signature.split(' ').length === 1)).toBe(true);
      receiver.trust(revoked.secret);
      expect((await oneDelivered(receiver, third)).tries.map((t) => t.answered)).toEqual([401, 200]);
      await http().post(`/v1/webhook-endpoints/${endpoint.endpoint_id}/rotate-secret`).set(ADMIN).send({ previous_secret_valid_for_seconds: -1 }).expect(422);
    });
  }, 40_000);

  it('gives up after 24 hours of failures, and sends again on a manual retry, delivered or not', async () => {
    await withEndpoint(async (receiver, endpoint) => {
      receiver.fail(500, 500);
      const accountId = await account();
      await decline(accountId);
      await until(async () => (await deliveriesOf(endpoint.endpoint_id))[0]?.attempts.length === 1, 'the first try');
      // As if the first try were a day old: the next failure gives up.
      await db.query(`UPDATE webhook_deliveries SET schedule_started_at = schedule_started_at - interval '24 hours' WHERE endpoint_id = $1`, [endpoint.endpoint_id]);
      await until(async () => (await deliveriesOf(endpoint.endpoint_id))[0].status === 'failed', 'giving up', 15_000);
      const [failed] = await deliveriesOf(endpoint.endpoint_id);
      expect(failed.attempts.map((a) => a.status_code)).toEqual([500, 500]);
      expect(aboutAccount(receiver, accountId)).toEqual([]);

      const retried = (await http().post(`/v1/webhook-endpoints/${endpoint.endpoint_id}/deliveries/${failed.delivery_id}/retry`).set(ADMIN).expect(202)).body;
      expect(retried).toMatchObject({ delivery_id: failed.delivery_id, status: 'pending' });
      const { message } = await oneDelivered(receiver, accountId, 5_000);
      expect(message.id).toBe(failed.event_id);
      // A delivered one is sent again too, with the same webhook-id (receivers dedupe on it).
      await http().post(`/v1/webhook-endpoints/${endpoint.endpoint_id}/deliveries/${failed.delivery_id}/retry`).set(ADMIN).expect(202);
      await until(() => receiver.triesOf(message.id).filter((t) => t.answered === 200).length === 2, 'the second delivery', 5_000);
      expect((await deliveriesOf(endpoint.endpoint_id))[0]).toMatchObject({ status: 'delivered', attempts: [{ status_code: 500 }, { status_code: 500 }, { status_code: 200 }, { status_code: 200 }] });
      await http().post(`/v1/webhook-endpoints/${endpoint.endpoint_id}/deliveries/dlv_999999999/retry`).set(ADMIN).expect(404);
      await http().post(`/v1/webhook-endpoints/${endpoint.endpoint_id}/deliveries/1/retry`).set(ADMIN).expect(404);
    });
  }, 40_000);
});

describe('the address check at delivery', () => {
  it('refuses to connect to a private address, however the endpoint was registered', async () => {
    // The API took the endpoint (127.0.0.1 and localhost allowed there); this worker allows no host.
    const scratch = await scratchDatabase();
    const USAGE_QUEUE = uniqueQueueName();
    const api = await startApi({ DATABASE_URL: scratch.url, USAGE_QUEUE });
    const worker = await startWorker({ DATABASE_URL: scratch.url, USAGE_QUEUE, WEBHOOK_ALLOW_HTTP_HOSTS: 'none' });
    const receiver = await new WebhookReceiver().start();
    try {
      const port = new URL(receiver.url()).port;
      for (const url of [`https://127.0.0.1:${port}/hooks`, `https://localhost:${port}/hooks`, receiver.url()]) {
        await api.http().post('/v1/webhook-endpoints').set(ADMIN).send({ url, events: ['hold.declined'] }).expect(201);
      }
      const { account_id } = await createAccount(api);
      await api.http().post(`/v1/accounts/${account_id}/holds`).set(ADMIN).send({ amount: '1' }).expect(402);
      const errors = async () =>
        (await api.app.get(DataSource).query(`SELECT e.url, a.error FROM webhook_attempts a JOIN webhook_deliveries d USING (delivery_id) JOIN webhook_endpoints e USING (endpoint_id) ORDER BY e.url`)) as { url: string; error: string }[];
      await until(async () => (await errors()).length >= 3, 'a try to each endpoint');
      expect(Object.fromEntries((await errors()).map((r) => [new URL(r.url).host.split(':')[0] + new URL(r.url).protocol, r.error]))).toEqual({
        '127.0.0.1https:': 'refused: 127.0.0.1 is a private, loopback or link-local address (allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS)',
        'localhosthttps:': 'refused: localhost resolves to 127.0.0.1, which is a private, loopback or link-local address (allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS)',
        '127.0.0.1http:': 'refused: the URL must be https (http is allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS, and 127.0.0.1 is not one)',
      });
      expect(receiver.requests).toEqual([]);
    } finally {
      await worker.close();
      await api.close();
      await receiver.stop();
      await scratch.drop();
    }
  }, 40_000);
});
