import { describe, expect, it } from '@jest/globals';
import { mergePlans, planBatch, rejection, storablePayload, MAX_STORED_PAYLOAD_BYTES } from './batch.js';
import { LAUNCH_CATALOG, LAUNCH_PRICES } from './catalog.js';
import { formatMoney } from './money.js';

const ctx = { catalog: LAUNCH_CATALOG, rateCards: [LAUNCH_PRICES], now: new Date('2026-11-24T12:00:00Z') };
const event = (id: string, output = 10, extra: Record<string, unknown> = {}) => ({
  event_id: id,
  account_id: 'acme',
  model: 'qwen3-5-4b',
  endpoint: '/v1/chat/completions',
  occurred_at: '2026-11-24T11:00:00Z',
  usage: { prompt_tokens: 100, completion_tokens: output },
  ...extra,
});

describe('planBatch', () => {
  it('prices valid events, rejects invalid ones, and keeps going', () => {
    const plan = planBatch([event('a'), { event_id: 'b' }, 'not an object', event('c', 1)], ctx);
    expect(plan.priced.map(({ event: e }) => [e.eventId, formatMoney(e.cost)])).toEqual([
      ['a', '0.0000047'],
      ['c', '0.00000407'],
    ]);
    expect(plan.rejections.map((r) => [r.eventId, r.reason])).toEqual([
      ['b', 'invalid_account_id'],
      [null, 'invalid_payload'],
    ]);
    expect(plan.duplicates).toBe(0);
  });

  it('counts a repeat with the same content as a duplicate, even written differently', () => {
    const plan = planBatch([event('a'), { ...event('a'), occurred_at: '2026-11-24T11:00:00+00:00', model: 'Qwen3.5-4B' }], ctx);
    expect(plan.priced).toHaveLength(1);
    expect(plan.duplicates).toBe(1);
    expect(plan.rejections).toEqual([]);
  });

  it('rejects a repeat with other content as a conflict and bills the first only', () => {
    const plan = planBatch([event('a', 10), event('a', 11)], ctx);
    expect(plan.priced.map(({ event: e }) => e.tokens.output)).toEqual([10]);
    expect(plan.rejections).toEqual([expect.objectContaining({ eventId: 'a', reason: 'conflict' })]);
  });

  it('accounts for every event: priced + rejected + duplicates = received', () => {
    const raw = [event('a'), event('a'), event('a', 12), null, event('b'), { ...event('c'), model: 'nope' }];
    const plan = planBatch(raw, ctx);
    expect(plan.priced.length + plan.rejections.length + plan.duplicates).toBe(raw.length);
  });
});

describe('storablePayload', () => {
  it('writes NUL and unpaired surrogates out as text and keeps paired ones', () => {
    expect(storablePayload({ a: 'x\u0000y', b: '\ud800', c: '😀', ['k\u0000']: 1 })).toEqual({ a: 'x\\u0000y', b: '\\ud800', c: '😀', 'k\\u0000': 1 });
  });

  it('cuts nesting and keeps only the head of a huge payload', () => {
    let deep: unknown = 'bottom';
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(JSON.stringify(storablePayload(deep))).toContain('[nested too deep]');
    const huge = storablePayload({ s: 'x'.repeat(MAX_STORED_PAYLOAD_BYTES + 10) }) as { truncated: boolean; bytes: number; head: string };
    expect(huge.truncated).toBe(true);
    expect(huge.bytes).toBe(MAX_STORED_PAYLOAD_BYTES + 10 + 8);
    expect(huge.head).toHaveLength(4096);
  });

  it('keeps a __proto__ key from JSON as data, so different payloads stay different', () => {
    const one = JSON.parse('{"event_id":"x","__proto__":{"n":1}}');
    const two = JSON.parse('{"event_id":"x","__proto__":{"n":2}}');
    expect(JSON.stringify(storablePayload(one))).toBe('{"event_id":"x","__proto__":{"n":1}}');
    expect(rejection(one, 'invalid_payload', '').payloadHash).not.toBe(rejection(two, 'invalid_payload', '').payloadHash);
    expect(({} as Record<string, unknown>).n).toBeUndefined();
  });

  it('gives the same hash to the same payload whatever its key order', () => {
    expect(rejection({ a: 1, b: 2 }, 'invalid_payload', '').payloadHash).toBe(rejection({ b: 2, a: 1 }, 'invalid_payload', '').payloadHash);
  });
});

describe('mergePlans', () => {
  it('settles repeats across jobs like repeats inside one', () => {
    const merged = mergePlans([planBatch([event('a'), event('b')], ctx), planBatch([event('a'), event('b', 99), event('c')], ctx)]);
    expect(merged.priced.map(({ event: e }) => e.eventId)).toEqual(['a', 'b', 'c']);
    expect(merged.duplicates).toBe(1);
    expect(merged.rejections).toEqual([expect.objectContaining({ eventId: 'b', reason: 'conflict' })]);
  });
});
