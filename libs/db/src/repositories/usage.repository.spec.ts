import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LAUNCH_CATALOG, LAUNCH_PRICES, type PricedEvent, validateUsageEvent } from '@app/billing';
import { pricedEventsJson } from './usage.repository.js';

const ctx = { catalog: LAUNCH_CATALOG, rateCards: [LAUNCH_PRICES], now: new Date('2026-12-01T12:00:00Z') };

describe('pricedEventsJson', () => {
  it('writes each event as the object RECORD_PRICED reads, with usage and metadata as received', () => {
    const text = fc.string({ unit: 'grapheme', maxLength: 10 });
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            id: text.filter((t) => t.length > 0),
            prompt: fc.nat(100_000),
            output: fc.nat(30_000),
            extra: fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
            metadata: fc.option(fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 })),
            hold: fc.option(text.filter((t) => t.length > 0)),
          }),
          { maxLength: 20 },
        ),
        (specs) => {
          const events: PricedEvent[] = [];
          for (const s of specs) {
            const result = validateUsageEvent(
              {
                event_id: s.id,
                account_id: 'acct-1',
                model: 'qwen3-5-4b',
                endpoint: '/v1/chat/completions',
                occurred_at: '2026-12-01T11:00:00.123Z',
                usage: { ...s.extra, prompt_tokens: s.prompt, completion_tokens: s.output },
                metadata: s.metadata,
                hold_id: s.hold,
              },
              ctx,
            );
            if (result.ok) events.push(result.event);
          }
          expect(JSON.parse(pricedEventsJson(events))).toEqual(
            events.map((e) => ({
              event_id: e.eventId,
              account_id: e.accountId,
              model_id: e.model,
              endpoint: e.endpoint,
              occurred_at: e.occurredAt.toISOString(),
              rate_card_version: e.rateCardVersion,
              input_tokens: e.tokens.input,
              cached_input_tokens: e.tokens.cachedInput,
              output_tokens: e.tokens.output,
              cache_reported: e.cacheReported,
              cost: e.cost.toFixed(),
              content_hash: e.contentHash,
              // As JSON carries them (-0 is written 0, as any JSON text would).
              usage: JSON.parse(JSON.stringify(e.usage)),
              metadata: e.metadata === undefined ? undefined : JSON.parse(JSON.stringify(e.metadata)),
              ...(e.holdId ? { hold_id: e.holdId } : {}),
            })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
