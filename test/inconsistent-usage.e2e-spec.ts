import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Queue } from 'bullmq';
import { ADMIN, drained, startService, type TestApi, type TestService } from './support/api.js';
import { createAccount, usageEvent } from './support/factories.js';

let service: TestService;
let api: TestApi;
let queue: Queue;

beforeAll(async () => {
  service = await startService();
  ({ api, queue } = service);
});
afterAll(() => service.close());

const getEvent = async (id: string) => (await api.http().get(`/v1/usage-events/${encodeURIComponent(id)}`).set(ADMIN).expect(200)).body;
const balanceOf = async (accountId: string) => (await api.http().get(`/v1/accounts/${accountId}/balance`).set(ADMIN).expect(200)).body.balance as string;
const rejectionsOf = async (eventIds: string[]) => {
  const res = await api.http().get('/v1/rejected-events').query({ reason: 'inconsistent_usage', limit: 1000 }).set(ADMIN).expect(200);
  expect(new Set(res.body.data.map((r: { reason: string }) => r.reason))).toEqual(new Set(['inconsistent_usage']));
  return res.body.data.filter((r: { event_id: string }) => eventIds.includes(r.event_id));
};

/** One self-contradicting usage per shape and field position, and one that is consistent (billed $0.00000007). */
const contradicting: [string, string, Record<string, unknown>][] = [
  ['chat, completion_tokens_details', '/v1/chat/completions', { prompt_tokens: 10, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 6 } }],
  ['chat, top-level reasoning_tokens (SGLang)', '/v1/chat/completions', { prompt_tokens: 10, completion_tokens: 5, reasoning_tokens: 6 }],
  ['chat, total_tokens', '/v1/chat/completions', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 14 }],
  ['completions, total_tokens', '/v1/completions', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 16 }],
  ['responses, output_tokens_details', '/v1/responses', { input_tokens: 10, output_tokens: 5, output_tokens_details: { reasoning_tokens: 9 } }],
  ['responses, total_tokens', '/v1/responses', { input_tokens: 10, output_tokens: 5, total_tokens: 5 }],
];
const consistent = { prompt_tokens: 0, completion_tokens: 1, total_tokens: 1, completion_tokens_details: { reasoning_tokens: 1 } };

describe('inconsistent_usage', () => {
  it('is recorded for each shape over the queue (usage and usage-batch jobs), and the rest of the batch is billed', async () => {
    const { account_id } = await createAccount(api);
    const events = contradicting.map(([, endpoint, usage]) => usageEvent(account_id, { endpoint, usage }));
    const [single, ...batched] = events;
    const good = usageEvent(account_id, { usage: consistent });
    await queue.add('usage', single);
    await queue.add('usage-batch', { events: [...batched, good] });
    await drained(queue);

    for (const event of events) {
      expect(await getEvent(event.event_id)).toMatchObject({ status: 'rejected', reason: 'inconsistent_usage', cost: null, detail: expect.stringMatching(/is (greater than|not) usage\./) });
    }
    const recorded = await rejectionsOf(events.map((e) => e.event_id));
    expect(recorded).toHaveLength(events.length);
    expect(recorded.every((r: { source: string }) => r.source === 'queue')).toBe(true);
    expect(await getEvent(good.event_id)).toMatchObject({ status: 'priced', cost: '0.00000007' });
    expect(await balanceOf(account_id)).toBe('-0.00000007');
  });

  it('is answered at once over HTTP (202 with the reasons), recorded, and never reaches the queue', async () => {
    const { account_id } = await createAccount(api);
    const events = contradicting.map(([, endpoint, usage]) => usageEvent(account_id, { endpoint, usage }));
    const good = usageEvent(account_id, { usage: consistent });
    const res = await api.http().post('/v1/usage-events').set(ADMIN).send({ events: [good, ...events] }).expect(202);
    expect(res.body.accepted).toBe(1);
    expect(res.body.rejected).toEqual(
      events.map((e, i) => ({ index: i + 1, event_id: e.event_id, reason: 'inconsistent_usage', detail: expect.any(String) })),
    );
    expect(res.body.rejected[5].detail).toBe('usage.total_tokens (5) is not usage.input_tokens + usage.output_tokens (10 + 5).');
    await drained(queue);

    const recorded = await rejectionsOf(events.map((e) => e.event_id));
    expect(recorded).toHaveLength(events.length);
    expect(recorded.every((r: { source: string }) => r.source === 'http')).toBe(true);
    expect(await getEvent(good.event_id)).toMatchObject({ status: 'priced', cost: '0.00000007' });
    expect(await balanceOf(account_id)).toBe('-0.00000007');
  });
});
