import { randomBytes } from 'node:crypto';
import type { TestApi } from './api.js';
import { ADMIN } from './api.js';

export const uniqueId = (prefix = 'acct') => `${prefix}-${randomBytes(5).toString('hex')}`;

export async function createAccount(api: TestApi, overrides: { account_id?: string; name?: string } = {}) {
  const body = { account_id: overrides.account_id ?? uniqueId(), name: overrides.name ?? 'Test account' };
  const res = await api.http().post('/v1/accounts').set(ADMIN).send(body).expect(201);
  return res.body as { account_id: string; name: string; balance: string };
}

export async function credit(api: TestApi, accountId: string, amount: string, kind = 'purchase', key = uniqueId('idem')) {
  const res = await api.http().post(`/v1/accounts/${accountId}/credits`).set(ADMIN).set('Idempotency-Key', key).send({ amount, kind }).expect(201);
  return res.body;
}

export async function createKey(api: TestApi, accountId: string): Promise<string> {
  const res = await api.http().post(`/v1/accounts/${accountId}/api-keys`).set(ADMIN).expect(201);
  return res.body.secret;
}

let sequence = 0;
export const eventId = () => `req-${randomBytes(6).toString('hex')}-${++sequence}`;

/** A valid chat completion usage event; override anything. */
export function usageEvent(accountId: string, overrides: Record<string, unknown> = {}) {
  return {
    event_id: eventId(),
    account_id: accountId,
    model: 'qwen3-5-4b',
    endpoint: '/v1/chat/completions',
    occurred_at: new Date().toISOString(),
    usage: { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 0 } },
    ...overrides,
  };
}
