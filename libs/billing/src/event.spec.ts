import { describe, it, expect } from '@jest/globals';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { LAUNCH_CATALOG, LAUNCH_PRICES } from './catalog.js';
import {
  REJECTION_REASONS,
  checkUsageEvent,
  canonicalJson,
  eventContentJson,
  isRejectionReason,
  parseTimestamp,
  validateUsageEvent,
  type EventValidation,
  type ValidationContext,
} from './event.js';
import { Money, formatMoney } from './money.js';
import type { RateCardVersion } from './rate-card.js';

const ctx: ValidationContext = {
  catalog: LAUNCH_CATALOG,
  rateCards: [LAUNCH_PRICES],
  now: new Date('2026-11-24T12:00:00Z'),
};

const event = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  event_id: 'req_01',
  account_id: 'acct_1',
  model: 'qwen3-5-4b',
  endpoint: '/v1/chat/completions',
  occurred_at: '2026-11-24T10:00:00Z',
  usage: { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 600 } },
  ...overrides,
});

const priced = (r: EventValidation) => {
  if (!r.ok) throw new Error(`expected priced, got ${r.reason}: ${r.detail}`);
  return r.event;
};
const rejected = (r: EventValidation) => {
  if (r.ok) throw new Error('expected a rejection');
  return r;
};
const reasonOf = (raw: unknown, c: ValidationContext = ctx): string => {
  const r = validateUsageEvent(raw, c);
  return r.ok ? 'priced' : r.reason;
};

describe('validateUsageEvent: a valid event', () => {
  it('is priced with canonical model, normalised tokens, version and exact cost', () => {
    const e = priced(validateUsageEvent(event(), ctx));
    expect(e.eventId).toBe('req_01');
    expect(e.accountId).toBe('acct_1');
    expect(e.model).toBe('qwen3-5-4b');
    expect(e.endpoint).toBe('/v1/chat/completions');
    expect(e.occurredAt.toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(e.tokens).toEqual({ input: 400, cachedInput: 600, output: 200 });
    expect(e.cacheReported).toBe(true);
    expect(e.rateCardVersion).toBe(1);
    expect(formatMoney(e.cost)).toBe('0.000042'); // 400×0.04 + 600×0.02 + 200×0.07 = 42 millionths
    expect(e.metadata).toBeNull();
    expect(e.usage).toEqual(event().usage);
    expect(e.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('resolves an alias case-insensitively to the canonical id', () => {
    expect(priced(validateUsageEvent(event({ model: 'alibaba cloud QWEN3.5 4b' }), ctx)).model).toBe('qwen3-5-4b');
  });

  it('costs exactly "0.00000007" for a single output token', () => {
    const e = priced(validateUsageEvent(event({ usage: { prompt_tokens: 0, completion_tokens: 1 } }), ctx));
    expect(formatMoney(e.cost)).toBe('0.00000007');
  });

  it('records that the cache was not reported and bills all input at the input rate', () => {
    const e = priced(
      validateUsageEvent(event({ usage: { prompt_tokens: 1000, completion_tokens: 0, prompt_tokens_details: null } }), ctx),
    );
    expect(e.cacheReported).toBe(false);
    expect(formatMoney(e.cost)).toBe('0.00004');
  });

  it('prices an Anthropic messages event: input + creation at the input rate, reads at the cached rate', () => {
    const e = priced(
      validateUsageEvent(
        event({
          endpoint: '/v1/messages',
          usage: { input_tokens: 100, cache_creation_input_tokens: 900, cache_read_input_tokens: 2000, output_tokens: 10 },
        }),
        ctx,
      ),
    );
    expect(e.tokens).toEqual({ input: 1000, cachedInput: 2000, output: 10 });
    expect(formatMoney(e.cost)).toBe('0.0000807'); // 1000×0.04 + 2000×0.02 + 10×0.07 = 80.7 millionths
  });

  it('prices a responses event without adding reasoning tokens', () => {
    const e = priced(
      validateUsageEvent(
        event({
          endpoint: '/v1/responses',
          usage: { input_tokens: 10, output_tokens: 100, output_tokens_details: { reasoning_tokens: 90 } },
        }),
        ctx,
      ),
    );
    expect(formatMoney(e.cost)).toBe('0.0000074');
  });

  it('keeps metadata as given', () => {
    const metadata = { request_path: '/v1/chat/completions', tags: ['a', 'b'], nested: { n: 1 } };
    expect(priced(validateUsageEvent(event({ metadata }), ctx)).metadata).toEqual(metadata);
  });

  it('treats metadata: null as absent', () => {
    expect(priced(validateUsageEvent(event({ metadata: null }), ctx)).metadata).toBeNull();
  });

  it('ignores unknown top-level fields', () => {
    expect(reasonOf(event({ extra: 'x' }))).toBe('priced');
  });
});

describe('validateUsageEvent: limits', () => {
  it('accepts 262144 input tokens (the full context window)', () => {
    expect(reasonOf(event({ usage: { prompt_tokens: 262144, completion_tokens: 1 } }))).toBe('priced');
  });

  it('costs exactly "0.01277952" for 262144 uncached input and 32768 output tokens', () => {
    const e = priced(validateUsageEvent(event({ usage: { prompt_tokens: 262144, completion_tokens: 32768 } }), ctx));
    expect(formatMoney(e.cost)).toBe('0.01277952');
  });

  it('rejects 262145 input tokens with context_window_exceeded', () => {
    expect(reasonOf(event({ usage: { prompt_tokens: 262145, completion_tokens: 1 } }))).toBe('context_window_exceeded');
  });

  it('counts Anthropic cache reads toward the context window', () => {
    const usage = { input_tokens: 1, cache_creation_input_tokens: 144, cache_read_input_tokens: 262000, output_tokens: 1 };
    expect(reasonOf(event({ endpoint: '/v1/messages', usage }))).toBe('context_window_exceeded');
  });

  it('accepts 32768 output tokens (the max output)', () => {
    expect(reasonOf(event({ usage: { prompt_tokens: 1, completion_tokens: 32768 } }))).toBe('priced');
  });

  it('rejects 32769 output tokens with max_output_exceeded', () => {
    expect(reasonOf(event({ usage: { prompt_tokens: 1, completion_tokens: 32769 } }))).toBe('max_output_exceeded');
  });

  it('accepts an occurred_at exactly 5 minutes after now', () => {
    expect(reasonOf(event({ occurred_at: '2026-11-24T12:05:00Z' }))).toBe('priced');
  });

  it('rejects an occurred_at more than 5 minutes after now with timestamp_in_future', () => {
    expect(reasonOf(event({ occurred_at: '2026-11-24T12:05:00.001Z' }))).toBe('timestamp_in_future');
  });

  it('accepts an event_id of 128 characters and rejects 129', () => {
    expect(reasonOf(event({ event_id: 'x'.repeat(128) }))).toBe('priced');
    expect(reasonOf(event({ event_id: 'x'.repeat(129) }))).toBe('invalid_event_id');
  });

  it('counts event_id length in characters, not UTF-16 units', () => {
    expect(reasonOf(event({ event_id: '😀'.repeat(128) }))).toBe('priced');
    expect(rejected(validateUsageEvent(event({ event_id: '😀'.repeat(129) }), ctx)).detail).toBe('event_id must be 1 to 128 characters long, got 129.');
    expect(rejected(validateUsageEvent(event({ event_id: '' }), ctx)).detail).toBe('event_id must be 1 to 128 characters long, got 0.');
  });

  it('accepts an account_id of 64 characters and rejects 65', () => {
    expect(reasonOf(event({ account_id: 'a'.repeat(64) }))).toBe('priced');
    expect(reasonOf(event({ account_id: 'a'.repeat(65) }))).toBe('invalid_account_id');
  });

  it('accepts metadata of exactly 4096 bytes of JSON and rejects 4097', () => {
    const padding = 4096 - JSON.stringify({ k: '' }).length;
    expect(reasonOf(event({ metadata: { k: 'x'.repeat(padding) } }))).toBe('priced');
    expect(reasonOf(event({ metadata: { k: 'x'.repeat(padding + 1) } }))).toBe('metadata_too_large');
  });

  it('measures metadata in UTF-8 bytes, not characters', () => {
    const padding = 4096 - JSON.stringify({ k: '' }).length;
    expect(reasonOf(event({ metadata: { k: 'é'.repeat(Math.ceil(padding / 2) + 1) } }))).toBe('metadata_too_large');
  });
});

describe('validateUsageEvent: rate cards', () => {
  const v2: RateCardVersion = {
    version: 2,
    effectiveFrom: new Date('2026-11-01T00:00:00Z'),
    prices: {
      'qwen3-5-4b': { inputPerMillion: new Money('0.05'), outputPerMillion: new Money('0.08'), cachedInputPerMillion: new Money('0.01') },
    },
  };
  const twoCards = { ...ctx, rateCards: [v2, LAUNCH_PRICES] };
  const oneOutputToken = { prompt_tokens: 0, completion_tokens: 1 };

  it('prices an event at the exact boundary instant with the new version', () => {
    const e = priced(validateUsageEvent(event({ occurred_at: '2026-11-01T00:00:00Z', usage: oneOutputToken }), twoCards));
    expect(e.rateCardVersion).toBe(2);
    expect(formatMoney(e.cost)).toBe('0.00000008');
  });

  it('prices an event one millisecond before the boundary with the old version', () => {
    const e = priced(validateUsageEvent(event({ occurred_at: '2026-10-31T23:59:59.999Z', usage: oneOutputToken }), twoCards));
    expect(e.rateCardVersion).toBe(1);
    expect(formatMoney(e.cost)).toBe('0.00000007');
  });

  it('uses the offset to find the instant: 01:00+01:00 is before a midnight-UTC boundary', () => {
    const e = priced(validateUsageEvent(event({ occurred_at: '2026-11-01T00:59:59+01:00', usage: oneOutputToken }), twoCards));
    expect(e.rateCardVersion).toBe(1);
  });

  it('rejects an event before the first rate card with before_first_rate_card', () => {
    expect(reasonOf(event({ occurred_at: '2025-12-31T23:59:59.999Z' }))).toBe('before_first_rate_card');
  });

  it('accepts an event at the first rate card instant', () => {
    expect(reasonOf(event({ occurred_at: '2026-01-01T00:00:00Z' }))).toBe('priced');
  });

  it('rejects a model the version in effect does not price with model_not_priced', () => {
    const catalog = [...LAUNCH_CATALOG, { id: 'new-model', aliases: [], contextWindow: 1000, maxOutputTokens: 100 }];
    expect(reasonOf(event({ model: 'new-model' }), { ...ctx, catalog })).toBe('model_not_priced');
  });
});

describe('validateUsageEvent: every rejection reason', () => {
  it.each([null, 'event', 42, [], [event()]])('rejects the payload %p with invalid_payload', (raw) => {
    expect(reasonOf(raw)).toBe('invalid_payload');
  });

  it.each([undefined, '', 42, null, 'a\u0000b', '\ud800x'])('rejects event_id %p with invalid_event_id', (id) => {
    expect(reasonOf(event({ event_id: id }))).toBe('invalid_event_id');
  });

  it.each([undefined, '', 42, null, 'acct\u0000'])('rejects account_id %p with invalid_account_id', (id) => {
    expect(reasonOf(event({ account_id: id }))).toBe('invalid_account_id');
  });

  it.each([undefined, '/v1/embeddings', 'v1/chat/completions', '/V1/CHAT/COMPLETIONS', 1])(
    'rejects endpoint %p with unknown_endpoint',
    (endpoint) => {
      expect(reasonOf(event({ endpoint }))).toBe('unknown_endpoint');
    },
  );

  it.each([undefined, '', 'gpt-4o', 'qwen3.5', 42])('rejects model %p with unknown_model', (model) => {
    expect(reasonOf(event({ model }))).toBe('unknown_model');
  });

  it.each([
    undefined,
    1764000000000,
    '2026-11-24 10:00:00',
    '2026-11-24T10:00:00',
    '2026-11-24',
    '2026-13-01T00:00:00Z',
    '2026-02-29T00:00:00Z',
    '2026-11-31T00:00:00Z',
    '2026-11-24T24:00:00Z',
    '2026-11-24T10:60:00Z',
    '2026-11-24T10:00:60Z',
    '2026-11-24T10:00:00+24:00',
    '2026-11-24T10:00:00+0200',
    '2026-11-24T10:00Z',
    'Tue, 24 Nov 2026 10:00:00 GMT',
    'yesterday',
  ])('rejects occurred_at %p with invalid_timestamp', (occurredAt) => {
    expect(reasonOf(event({ occurred_at: occurredAt }))).toBe('invalid_timestamp');
  });

  it('rejects occurred_at far in the future with timestamp_in_future', () => {
    expect(reasonOf(event({ occurred_at: '2027-01-01T00:00:00Z' }))).toBe('timestamp_in_future');
  });

  it.each(['note', 42, ['a'], true])('rejects metadata %p with invalid_metadata', (metadata) => {
    expect(reasonOf(event({ metadata }))).toBe('invalid_metadata');
  });

  it('rejects metadata Postgres cannot store (NUL character) with invalid_metadata', () => {
    expect(reasonOf(event({ metadata: { note: 'a\u0000b' } }))).toBe('invalid_metadata');
  });

  it('rejects metadata nested absurdly deep with invalid_metadata', () => {
    let deep: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) deep = { d: deep };
    expect(reasonOf(event({ metadata: deep }))).toBe('invalid_metadata');
  });

  it('rejects metadata over 4 KiB with metadata_too_large', () => {
    expect(reasonOf(event({ metadata: { blob: 'x'.repeat(5000) } }))).toBe('metadata_too_large');
  });

  it('rejects a missing usage with invalid_usage_shape', () => {
    expect(reasonOf(event({ usage: undefined }))).toBe('invalid_usage_shape');
  });

  it('rejects a usage of another endpoint with invalid_usage_shape', () => {
    expect(reasonOf(event({ usage: { input_tokens: 1, output_tokens: 1 } }))).toBe('invalid_usage_shape');
  });

  it('rejects a usage Postgres cannot store with invalid_usage_shape', () => {
    expect(reasonOf(event({ usage: { prompt_tokens: 1, completion_tokens: 1, note: '\u0000' } }))).toBe('invalid_usage_shape');
  });

  it('rejects an oversized usage object with invalid_usage_shape', () => {
    expect(reasonOf(event({ usage: { prompt_tokens: 1, completion_tokens: 1, junk: 'x'.repeat(20000) } }))).toBe(
      'invalid_usage_shape',
    );
  });

  it('rejects a fractional token count with invalid_token_count', () => {
    expect(reasonOf(event({ usage: { prompt_tokens: 1.5, completion_tokens: 1 } }))).toBe('invalid_token_count');
  });

  it('rejects cached greater than prompt with cached_exceeds_input', () => {
    const usage = { prompt_tokens: 10, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 11 } };
    expect(reasonOf(event({ usage }))).toBe('cached_exceeds_input');
  });

  it('rejects usage whose total contradicts its parts with inconsistent_usage', () => {
    expect(reasonOf(event({ usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 16 } }))).toBe('inconsistent_usage');
  });

  it('rejects inconsistent usage before judging its counts against the model limits', () => {
    const usage = { prompt_tokens: 262145, completion_tokens: 5, total_tokens: 1 };
    expect(reasonOf(event({ usage }))).toBe('inconsistent_usage');
    expect(reasonOf(event({ usage: { ...usage, total_tokens: 262150 } }))).toBe('context_window_exceeded');
  });

  it('lists every reason code, including those decided by the caller', () => {
    expect([...REJECTION_REASONS].sort()).toEqual(
      [
        'before_first_rate_card',
        'cached_exceeds_input',
        'conflict',
        'context_window_exceeded',
        'inconsistent_usage',
        'invalid_account_id',
        'invalid_event_id',
        'invalid_hold_id',
        'invalid_job',
        'invalid_metadata',
        'invalid_payload',
        'invalid_timestamp',
        'invalid_token_count',
        'invalid_usage_shape',
        'max_output_exceeded',
        'metadata_too_large',
        'model_not_priced',
        'timestamp_in_future',
        'unknown_account',
        'unknown_endpoint',
        'unknown_model',
      ].sort(),
    );
  });

  it('recognises reason codes', () => {
    expect(isRejectionReason('unknown_account')).toBe(true);
    expect(isRejectionReason('nope')).toBe(false);
  });
});

describe('validateUsageEvent: failure details', () => {
  it('returns the event_id with a rejection once the event_id is valid', () => {
    const r = rejected(validateUsageEvent(event({ model: 'gpt-4o' }), ctx));
    expect(r.eventId).toBe('req_01');
  });

  it('returns a null event_id when the event_id itself is invalid', () => {
    expect(rejected(validateUsageEvent(event({ event_id: 'x'.repeat(129) }), ctx)).eventId).toBeNull();
  });

  it('returns a null event_id for a payload that is not an object', () => {
    expect(rejected(validateUsageEvent('nope', ctx)).eventId).toBeNull();
  });

  it('checks in the documented order: account before endpoint before model before timestamp', () => {
    expect(reasonOf(event({ account_id: '', endpoint: 'x', model: 'x', occurred_at: 'x' }))).toBe('invalid_account_id');
    expect(reasonOf(event({ endpoint: 'x', model: 'x', occurred_at: 'x' }))).toBe('unknown_endpoint');
    expect(reasonOf(event({ model: 'x', occurred_at: 'x' }))).toBe('unknown_model');
    expect(reasonOf(event({ occurred_at: 'x', metadata: 'x' }))).toBe('invalid_timestamp');
  });

  it('checks metadata before usage, and usage before limits', () => {
    expect(reasonOf(event({ metadata: 'x', usage: null }))).toBe('invalid_metadata');
    expect(reasonOf(event({ usage: { prompt_tokens: 300000, completion_tokens: -1 } }))).toBe('invalid_token_count');
  });

  it('gives a human detail sentence', () => {
    const r = rejected(validateUsageEvent(event({ usage: { prompt_tokens: 1, completion_tokens: 40000 } }), ctx));
    expect(r.detail).toBe('40000 output tokens exceed the 32768-token max output of qwen3-5-4b.');
  });
});

describe('parseTimestamp', () => {
  it('parses Z and offsets to the same instant', () => {
    expect(parseTimestamp('2026-11-24T10:00:00Z')?.toISOString()).toBe('2026-11-24T10:00:00.000Z');
    expect(parseTimestamp('2026-11-24T12:00:00.123+02:00')?.toISOString()).toBe('2026-11-24T10:00:00.123Z');
    expect(parseTimestamp('2026-11-24T05:30:00-04:30')?.toISOString()).toBe('2026-11-24T10:00:00.000Z');
  });

  it('truncates digits beyond milliseconds', () => {
    expect(parseTimestamp('2026-11-24T10:00:00.123999999Z')?.toISOString()).toBe('2026-11-24T10:00:00.123Z');
  });

  it('accepts 29 February in a leap year only', () => {
    expect(parseTimestamp('2028-02-29T00:00:00Z')?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(parseTimestamp('2026-02-29T00:00:00Z')).toBeNull();
  });

  it('accepts lowercase t and z as RFC 3339 allows', () => {
    expect(parseTimestamp('2026-11-24t10:00:00z')?.toISOString()).toBe('2026-11-24T10:00:00.000Z');
  });

  it('keeps two-digit years as written', () => {
    expect(parseTimestamp('0099-01-01T00:00:00Z')?.getUTCFullYear()).toBe(99);
    expect(parseTimestamp('0000-02-29T12:00:00Z')?.toISOString()).toBe('0000-02-29T12:00:00.000Z');
    expect(parseTimestamp('0000-01-01T00:30:00+01:00')?.toISOString()).toBe('-000001-12-31T23:30:00.000Z');
    expect(parseTimestamp('0100-02-29T00:00:00Z')).toBeNull();
  });

  it('gives the instant the Date setters give, for any valid date, time and offset', () => {
    const reference = (y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offsetMinutes: number): number => {
      const date = new Date(0);
      date.setUTCFullYear(y, mo - 1, d);
      date.setUTCHours(h, mi, s, ms);
      return date.getTime() - offsetMinutes * 60_000;
    };
    const pad = (n: number, width: number) => String(n).padStart(width, '0');
    fc.assert(
      fc.property(
        fc.record({
          y: fc.integer({ min: 0, max: 9999 }), mo: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }),
          h: fc.integer({ min: 0, max: 23 }), mi: fc.integer({ min: 0, max: 59 }), s: fc.integer({ min: 0, max: 59 }),
          ms: fc.option(fc.integer({ min: 0, max: 999 })), offset: fc.option(fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 })),
        }),
        ({ y, mo, d, h, mi, s, ms, offset }) => {
          const zone = offset === null ? 'Z' : `${offset < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(offset) / 60), 2)}:${pad(Math.abs(offset) % 60, 2)}`;
          const text = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${ms === null ? '' : `.${pad(ms, 3)}`}${zone}`;
          expect(parseTimestamp(text)?.getTime()).toBe(reference(y, mo, d, h, mi, s, ms ?? 0, offset ?? 0));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** contentHash of event(), as the first release computed it (generic canonicalJson of the content object). */
const GOLDEN_HASH = 'f1ae277aa7b5ea0efa0ec98ecadabb6afc7283298a8dd8719d76c334e1869686';

describe('contentHash', () => {
  const hashOf = (raw: Record<string, unknown>): string => priced(validateUsageEvent(raw, ctx)).contentHash;
  const base = hashOf(event({ metadata: { a: 1, b: { c: 2, d: 3 } } }));

  it('is the sha256 of the canonical JSON of the billable content', () => {
    const canonical = canonicalJson({
      event_id: 'req_01',
      account_id: 'acct_1',
      model: 'qwen3-5-4b',
      endpoint: '/v1/chat/completions',
      occurred_at: '2026-11-24T10:00:00.000Z',
      usage: event().usage,
      metadata: null,
    });
    expect(hashOf(event())).toBe(createHash('sha256').update(canonical).digest('hex'));
  });

  it('is the same when the timestamp is re-sent as +00:00 instead of Z', () => {
    expect(hashOf(event({ metadata: { a: 1, b: { c: 2, d: 3 } }, occurred_at: '2026-11-24T10:00:00.000+00:00' }))).toBe(base);
  });

  it('is the same when the timestamp is re-sent in another offset', () => {
    expect(hashOf(event({ metadata: { a: 1, b: { c: 2, d: 3 } }, occurred_at: '2026-11-24T11:00:00+01:00' }))).toBe(base);
  });

  it('is the same when an alias is sent instead of the canonical id', () => {
    expect(hashOf(event({ metadata: { a: 1, b: { c: 2, d: 3 } }, model: 'Qwen3.5 4B' }))).toBe(base);
  });

  it('is the same when keys come in another order, at any depth', () => {
    const reordered = {
      usage: { prompt_tokens_details: { cached_tokens: 600 }, completion_tokens: 200, prompt_tokens: 1000 },
      metadata: { b: { d: 3, c: 2 }, a: 1 },
      occurred_at: '2026-11-24T10:00:00Z',
      endpoint: '/v1/chat/completions',
      model: 'qwen3-5-4b',
      account_id: 'acct_1',
      event_id: 'req_01',
    };
    expect(hashOf(reordered)).toBe(base);
  });

  it('differs when any token count differs', () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 201, prompt_tokens_details: { cached_tokens: 600 } };
    expect(hashOf(event({ metadata: { a: 1, b: { c: 2, d: 3 } }, usage }))).not.toBe(base);
  });

  it('differs when the cached count differs', () => {
    const usage = { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 599 } };
    expect(hashOf(event({ metadata: { a: 1, b: { c: 2, d: 3 } }, usage }))).not.toBe(base);
  });

  it('differs when metadata, account or instant differ', () => {
    expect(hashOf(event({ metadata: { a: 2, b: { c: 2, d: 3 } } }))).not.toBe(base);
    expect(hashOf(event({ metadata: { a: 1, b: { c: 2, d: 3 } }, account_id: 'acct_2' }))).not.toBe(base);
    expect(hashOf(event({ metadata: { a: 1, b: { c: 2, d: 3 } }, occurred_at: '2026-11-24T10:00:01Z' }))).not.toBe(base);
  });

  it('is written out exactly as canonicalJson would write the content object', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 20 });
    const json = fc.dictionary(text, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 });
    fc.assert(
      fc.property(text, text, text, text, fc.date({ noInvalidDate: true }), json, fc.option(json), fc.option(text.filter((t) => t !== '')), (eventId, accountId, model, endpoint, occurredAt, usage, metadata, holdId) => {
        const content = { eventId, accountId, model, endpoint: endpoint as '/v1/chat/completions', occurredAt, usage, metadata, holdId };
        const generic = canonicalJson({ event_id: eventId, account_id: accountId, model, endpoint, occurred_at: occurredAt.toISOString(), usage, metadata, ...(holdId ? { hold_id: holdId } : {}) });
        expect(eventContentJson(content)).toBe(generic);
      }),
      { numRuns: 2000 },
    );
  });

  it('has not changed: the hash stored for an event long ago still matches its redelivery', () => {
    expect(hashOf(event())).toBe(GOLDEN_HASH);
  });

  it('counts hold_id as content when present, and leaves the hash of an event without one as it was', () => {
    expect(hashOf(event({ hold_id: null }))).toBe(GOLDEN_HASH);
    expect(hashOf(event({ hold_id: 'hold-1' }))).not.toBe(GOLDEN_HASH);
    expect(hashOf(event({ hold_id: 'hold-1' }))).not.toBe(hashOf(event({ hold_id: 'hold-2' })));
  });

  it('treats absent and null metadata alike, and differently from {}', () => {
    expect(hashOf(event())).toBe(hashOf(event({ metadata: null })));
    expect(hashOf(event())).not.toBe(hashOf(event({ metadata: {} })));
  });
});

describe('canonicalJson', () => {
  it('sorts keys recursively, inside arrays too', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }], c: { z: null, y: 'x' } })).toBe(
      '{"a":[{"c":2,"d":1}],"b":1,"c":{"y":"x","z":null}}',
    );
  });

  it('matches JSON.stringify for scalars and skips undefined object members', () => {
    expect(canonicalJson('a"b')).toBe('"a\\"b"');
    expect(canonicalJson(1.5)).toBe('1.5');
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(canonicalJson([undefined])).toBe('[null]');
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('uses toJSON like JSON.stringify (Dates, Decimals)', () => {
    expect(canonicalJson({ at: new Date('2026-01-01T00:00:00Z'), cost: new Money('0.00000007') })).toBe(
      '{"at":"2026-01-01T00:00:00.000Z","cost":"0.00000007"}',
    );
  });
});

describe('checkUsageEvent', () => {
  it('gives the same verdict as validateUsageEvent, without pricing or hashing', () => {
    const ctx = { catalog: LAUNCH_CATALOG, rateCards: [LAUNCH_PRICES], now: new Date('2026-11-24T12:00:00Z') };
    const good = { event_id: 'e', account_id: 'a', model: 'qwen3-5-4b', endpoint: '/v1/messages', occurred_at: '2026-11-24T11:00:00Z', usage: { input_tokens: 1, output_tokens: 1 } };
    expect(checkUsageEvent(good, ctx)).toEqual({ ok: true, eventId: 'e', accountId: 'a' });
    for (const bad of [{ ...good, model: 'x' }, { ...good, usage: { input_tokens: -1, output_tokens: 1 } }, 'junk']) {
      const full = validateUsageEvent(bad, ctx);
      expect(checkUsageEvent(bad, ctx)).toEqual(full);
    }
  });
});
