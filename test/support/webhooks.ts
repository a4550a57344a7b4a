import type { Queue } from 'bullmq';
import { ADMIN, drained, type TestApi } from './api.js';
import { usageEvent } from './factories.js';
import { until } from './until.js';
import type { Message, WebhookReceiver } from '../../bench/webhook-receiver.js';

/** Registers an endpoint for the receiver and gives the receiver its secret. */
export async function registerEndpoint(api: TestApi, receiver: WebhookReceiver, events?: string[], path?: string): Promise<{ endpoint_id: string; secret: string }> {
  const res = await api.http().post('/v1/webhook-endpoints').set(ADMIN).send({ url: receiver.url(path), ...(events ? { events } : {}) }).expect(201);
  receiver.trust(res.body.secret);
  return res.body;
}

/** The receiver's delivered messages about one account. */
export const aboutAccount = (receiver: WebhookReceiver, accountId: string): Message[] => receiver.delivered().filter((m) => m.data.account_id === accountId);

/** Waits until the receiver has `count` messages about the account, and returns them. */
export async function messagesAbout(receiver: WebhookReceiver, accountId: string, count: number, timeoutMs = 20_000): Promise<Message[]> {
  await until(() => aboutAccount(receiver, accountId).length >= count, `${count} webhook(s) about ${accountId} (have ${aboutAccount(receiver, accountId).map((m) => m.type).join(', ')})`, timeoutMs);
  return aboutAccount(receiver, accountId);
}

/** One usage event costing exactly $0.0121 (250,000 input tokens at $0.04/1M, 30,000 output at $0.07/1M). */
export const COSTLY_USAGE = { prompt_tokens: 250_000, completion_tokens: 30_000, prompt_tokens_details: { cached_tokens: 0 } };
export const COSTLY = '0.0121';

/** Bills `n` costly events to the account, one flush each. */
export async function spend(queue: Queue, accountId: string, n = 1): Promise<void> {
  for (let i = 0; i < n; i++) {
    await queue.add('usage', usageEvent(accountId, { usage: COSTLY_USAGE }));
    await drained(queue);
  }
}
