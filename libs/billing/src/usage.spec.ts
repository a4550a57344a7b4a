import { describe, it, expect } from '@jest/globals';
import fc from 'fast-check';
import { ENDPOINTS, isEndpoint, normalizeUsage, type Endpoint, type NormalizedUsage } from './usage.js';

const ok = (r: NormalizedUsage) => {
  if (!r.ok) throw new Error(`expected ok, got ${r.reason}: ${r.detail}`);
  return r;
};
const reason = (r: NormalizedUsage): string => (r.ok ? 'ok' : r.reason);

describe('ENDPOINTS', () => {
  it('lists the four billable endpoints', () => {
    expect([...ENDPOINTS]).toEqual(['/v1/chat/completions', '/v1/responses', '/v1/messages', '/v1/completions']);
  });

  it('recognises only those endpoints', () => {
    expect(isEndpoint('/v1/messages')).toBe(true);
    expect(isEndpoint('/v1/embeddings')).toBe(false);
    expect(isEndpoint('/V1/MESSAGES')).toBe(false);
    expect(isEndpoint(42)).toBe(false);
  });
});

describe.each(['/v1/chat/completions', '/v1/completions'] as const)('normalizeUsage(%s)', (endpoint) => {
  it('bills prompt minus cached at the input rate and cached at the cached rate', () => {
    const r = ok(
      normalizeUsage(endpoint, {
        prompt_tokens: 1000,
        completion_tokens: 200,
        total_tokens: 1200,
        prompt_tokens_details: { cached_tokens: 600 },
      }),
    );
    expect(r.tokens).toEqual({ input: 400, cachedInput: 600, output: 200 });
    expect(r.cacheReported).toBe(true);
    expect(r.totalInput).toBe(1000);
  });

  it('treats a missing prompt_tokens_details as cache not reported: all prompt tokens at the input rate', () => {
    const r = ok(normalizeUsage(endpoint, { prompt_tokens: 1000, completion_tokens: 200 }));
    expect(r.tokens).toEqual({ input: 1000, cachedInput: 0, output: 200 });
    expect(r.cacheReported).toBe(false);
  });

  it('treats vLLM prompt_tokens_details: null as cache not reported', () => {
    const r = ok(
      normalizeUsage(endpoint, { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200, prompt_tokens_details: null }),
    );
    expect(r.tokens).toEqual({ input: 1000, cachedInput: 0, output: 200 });
    expect(r.cacheReported).toBe(false);
  });

  it('treats cached_tokens: null as cache not reported', () => {
    const r = ok(
      normalizeUsage(endpoint, { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: null } }),
    );
    expect(r.tokens).toEqual({ input: 1000, cachedInput: 0, output: 200 });
    expect(r.cacheReported).toBe(false);
  });

  it('treats a details object without cached_tokens as cache not reported', () => {
    const r = ok(
      normalizeUsage(endpoint, { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { audio_tokens: 0 } }),
    );
    expect(r.tokens).toEqual({ input: 1000, cachedInput: 0, output: 200 });
    expect(r.cacheReported).toBe(false);
  });

  it('records a reported cached count of 0 as reported', () => {
    const r = ok(
      normalizeUsage(endpoint, { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 0 } }),
    );
    expect(r.tokens).toEqual({ input: 1000, cachedInput: 0, output: 200 });
    expect(r.cacheReported).toBe(true);
  });

  it('accepts cached equal to prompt (fully cached prompt)', () => {
    const r = ok(
      normalizeUsage(endpoint, { prompt_tokens: 500, completion_tokens: 1, prompt_tokens_details: { cached_tokens: 500 } }),
    );
    expect(r.tokens).toEqual({ input: 0, cachedInput: 500, output: 1 });
  });

  it('never adds completion_tokens_details.reasoning_tokens to the output', () => {
    const r = ok(
      normalizeUsage(endpoint, {
        prompt_tokens: 10,
        completion_tokens: 300,
        completion_tokens_details: { reasoning_tokens: 250 },
      }),
    );
    expect(r.tokens.output).toBe(300);
  });

  it("never adds SGLang's top-level reasoning_tokens to the output", () => {
    const r = ok(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 300, reasoning_tokens: 250 }));
    expect(r.tokens.output).toBe(300);
  });

  it('never bills total_tokens: the classes come from prompt and completion only', () => {
    const r = ok(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 }));
    expect(r.tokens).toEqual({ input: 10, cachedInput: 0, output: 5 });
  });

  it('accepts zero tokens everywhere', () => {
    const r = ok(normalizeUsage(endpoint, { prompt_tokens: 0, completion_tokens: 0 }));
    expect(r.tokens).toEqual({ input: 0, cachedInput: 0, output: 0 });
  });

  it('rejects cached greater than prompt with cached_exceeds_input', () => {
    const r = normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 11 } });
    expect(reason(r)).toBe('cached_exceeds_input');
  });

  it('rejects a usage carrying input_tokens instead of prompt_tokens with invalid_usage_shape', () => {
    expect(reason(normalizeUsage(endpoint, { input_tokens: 10, output_tokens: 5 }))).toBe('invalid_usage_shape');
  });

  it('rejects a missing completion_tokens with invalid_usage_shape', () => {
    expect(reason(normalizeUsage(endpoint, { prompt_tokens: 10 }))).toBe('invalid_usage_shape');
  });

  it('rejects a null prompt_tokens with invalid_usage_shape', () => {
    expect(reason(normalizeUsage(endpoint, { prompt_tokens: null, completion_tokens: 5 }))).toBe('invalid_usage_shape');
  });

  it('rejects a prompt_tokens_details that is not an object with invalid_usage_shape', () => {
    expect(reason(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: 3 }))).toBe(
      'invalid_usage_shape',
    );
  });

  it.each([-1, 1.5, '10', NaN, Infinity, 2 ** 53, true, {}])('rejects prompt_tokens %p with invalid_token_count', (v) => {
    expect(reason(normalizeUsage(endpoint, { prompt_tokens: v, completion_tokens: 5 }))).toBe('invalid_token_count');
  });

  it.each([-1, 1.5, '10', NaN, 2 ** 53])('rejects completion_tokens %p with invalid_token_count', (v) => {
    expect(reason(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: v }))).toBe('invalid_token_count');
  });

  it.each([-1, 1.5, '10', NaN, 2 ** 53])('rejects cached_tokens %p with invalid_token_count', (v) => {
    const usage = { prompt_tokens: 10, completion_tokens: 5, prompt_tokens_details: { cached_tokens: v } };
    expect(reason(normalizeUsage(endpoint, usage))).toBe('invalid_token_count');
  });

  it('rejects an invalid reasoning or total count with invalid_token_count', () => {
    const base = { prompt_tokens: 10, completion_tokens: 5 };
    expect(reason(normalizeUsage(endpoint, { ...base, reasoning_tokens: -1 }))).toBe('invalid_token_count');
    expect(reason(normalizeUsage(endpoint, { ...base, total_tokens: '15' }))).toBe('invalid_token_count');
    expect(reason(normalizeUsage(endpoint, { ...base, completion_tokens_details: { reasoning_tokens: 0.5 } }))).toBe(
      'invalid_token_count',
    );
  });

  it('accepts the largest safe integer as a count', () => {
    const r = ok(normalizeUsage(endpoint, { prompt_tokens: Number.MAX_SAFE_INTEGER, completion_tokens: 0 }));
    expect(r.totalInput).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('reads only own properties, never inherited ones', () => {
    const usage = Object.assign(Object.create(null) as Record<string, unknown>, { completion_tokens: 5 });
    expect(reason(normalizeUsage(endpoint, usage))).toBe('invalid_usage_shape');
  });
});

describe('normalizeUsage(/v1/responses)', () => {
  const endpoint = '/v1/responses';

  it('bills input minus cached at the input rate and cached at the cached rate', () => {
    const r = ok(
      normalizeUsage(endpoint, {
        input_tokens: 1000,
        input_tokens_details: { cached_tokens: 250 },
        output_tokens: 120,
        output_tokens_details: { reasoning_tokens: 100 },
        total_tokens: 1120,
      }),
    );
    expect(r.tokens).toEqual({ input: 750, cachedInput: 250, output: 120 });
    expect(r.cacheReported).toBe(true);
    expect(r.totalInput).toBe(1000);
  });

  it('never adds output_tokens_details.reasoning_tokens to the output', () => {
    const r = ok(
      normalizeUsage(endpoint, { input_tokens: 10, output_tokens: 120, output_tokens_details: { reasoning_tokens: 100 } }),
    );
    expect(r.tokens.output).toBe(120);
  });

  it('treats a missing input_tokens_details as cache not reported', () => {
    const r = ok(normalizeUsage(endpoint, { input_tokens: 1000, output_tokens: 5 }));
    expect(r.tokens).toEqual({ input: 1000, cachedInput: 0, output: 5 });
    expect(r.cacheReported).toBe(false);
  });

  it('treats input_tokens_details.cached_tokens: null as cache not reported', () => {
    const r = ok(normalizeUsage(endpoint, { input_tokens: 1000, output_tokens: 5, input_tokens_details: { cached_tokens: null } }));
    expect(r.tokens).toEqual({ input: 1000, cachedInput: 0, output: 5 });
    expect(r.cacheReported).toBe(false);
  });

  it('treats input_tokens_details: null as cache not reported', () => {
    const r = ok(normalizeUsage(endpoint, { input_tokens: 1000, output_tokens: 5, input_tokens_details: null }));
    expect(r.cacheReported).toBe(false);
  });

  it('rejects cached greater than input with cached_exceeds_input', () => {
    const r = normalizeUsage(endpoint, { input_tokens: 10, output_tokens: 5, input_tokens_details: { cached_tokens: 11 } });
    expect(reason(r)).toBe('cached_exceeds_input');
  });

  it('rejects a chat-shaped usage with invalid_usage_shape', () => {
    expect(reason(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5 }))).toBe('invalid_usage_shape');
  });

  it('rejects an invalid reasoning count with invalid_token_count', () => {
    const usage = { input_tokens: 10, output_tokens: 5, output_tokens_details: { reasoning_tokens: -3 } };
    expect(reason(normalizeUsage(endpoint, usage))).toBe('invalid_token_count');
  });
});

describe('normalizeUsage(/v1/messages)', () => {
  const endpoint = '/v1/messages';

  it('bills input_tokens + cache_creation_input_tokens at the input rate and cache reads at the cached rate', () => {
    const r = ok(
      normalizeUsage(endpoint, {
        input_tokens: 100,
        cache_creation_input_tokens: 2000,
        cache_read_input_tokens: 5000,
        output_tokens: 50,
      }),
    );
    expect(r.tokens).toEqual({ input: 2100, cachedInput: 5000, output: 50 });
    expect(r.cacheReported).toBe(true);
  });

  it('counts cache reads in the total input, since Anthropic input_tokens excludes them', () => {
    const r = ok(
      normalizeUsage(endpoint, { input_tokens: 100, cache_creation_input_tokens: 2000, cache_read_input_tokens: 5000, output_tokens: 1 }),
    );
    expect(r.totalInput).toBe(7100);
  });

  it('accepts cache reads greater than input_tokens (there is no cached > input rule here)', () => {
    const r = ok(normalizeUsage(endpoint, { input_tokens: 3, cache_read_input_tokens: 90000, output_tokens: 1 }));
    expect(r.tokens).toEqual({ input: 3, cachedInput: 90000, output: 1 });
  });

  it('treats a missing cache_read_input_tokens as cache not reported', () => {
    const r = ok(normalizeUsage(endpoint, { input_tokens: 100, output_tokens: 50 }));
    expect(r.tokens).toEqual({ input: 100, cachedInput: 0, output: 50 });
    expect(r.cacheReported).toBe(false);
  });

  it('treats cache_read_input_tokens: null as cache not reported', () => {
    const r = ok(normalizeUsage(endpoint, { input_tokens: 100, output_tokens: 50, cache_read_input_tokens: null }));
    expect(r.cacheReported).toBe(false);
  });

  it('counts a missing or null cache_creation_input_tokens as 0', () => {
    const missing = ok(normalizeUsage(endpoint, { input_tokens: 100, output_tokens: 1, cache_read_input_tokens: 0 }));
    const nulled = ok(
      normalizeUsage(endpoint, { input_tokens: 100, output_tokens: 1, cache_creation_input_tokens: null, cache_read_input_tokens: 0 }),
    );
    expect(missing.tokens).toEqual({ input: 100, cachedInput: 0, output: 1 });
    expect(nulled.tokens).toEqual({ input: 100, cachedInput: 0, output: 1 });
    expect(missing.cacheReported).toBe(true);
  });

  it('rejects a chat-shaped usage with invalid_usage_shape', () => {
    expect(reason(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5 }))).toBe('invalid_usage_shape');
  });

  it.each(['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'])(
    'rejects a negative %s with invalid_token_count',
    (key) => {
      const usage: Record<string, unknown> = { input_tokens: 1, output_tokens: 1, [key]: -1 };
      expect(reason(normalizeUsage(endpoint, usage))).toBe('invalid_token_count');
    },
  );

  it('rejects input counts whose sum is not a safe integer with invalid_token_count', () => {
    const usage = { input_tokens: Number.MAX_SAFE_INTEGER, cache_creation_input_tokens: 1, output_tokens: 1 };
    expect(reason(normalizeUsage(endpoint, usage))).toBe('invalid_token_count');
  });
});

describe('normalizeUsage(any endpoint)', () => {
  it.each(ENDPOINTS.flatMap((e) => [null, undefined, 'usage', 42, [], [1, 2]].map((u) => [e, u] as const)))(
    '%s rejects the non-object usage %p with invalid_usage_shape',
    (endpoint, usage) => {
      expect(reason(normalizeUsage(endpoint, usage))).toBe('invalid_usage_shape');
    },
  );

  it('rejects an unknown endpoint with invalid_usage_shape instead of throwing', () => {
    expect(reason(normalizeUsage('/v1/embeddings' as Endpoint, { prompt_tokens: 1, completion_tokens: 1 }))).toBe(
      'invalid_usage_shape',
    );
  });

  it('gives a detail sentence naming the offending field', () => {
    const r = normalizeUsage('/v1/chat/completions', { prompt_tokens: 1.5, completion_tokens: 1 });
    expect(r.ok ? '' : r.detail).toBe('usage.prompt_tokens must be a non-negative integer, got 1.5.');
  });
});

describe('normalizeUsage never bills a token twice (properties)', () => {
  const count = fc.nat({ max: 10_000_000 });
  const maybeCount = fc.option(count, { nil: null });

  it('chat and completions: input + cachedInput = prompt_tokens, output = completion_tokens', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('/v1/chat/completions' as const, '/v1/completions' as const),
        count,
        fc.float({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom('absent', 'null-details', 'null-cached', 'reported'),
        count,
        fc.option(fc.float({ min: 0, max: 1, noNaN: true }), { nil: null }),
        fc.option(fc.float({ min: 0, max: 1, noNaN: true }), { nil: null }),
        (endpoint, prompt, cachedShare, cacheMode, completion, reasoningShare, sglangShare) => {
          const cached = Math.floor(prompt * cachedShare);
          // Reasoning is part of the output (more would be inconsistent_usage, tested below).
          const reasoning = reasoningShare === null ? null : Math.floor(completion * reasoningShare);
          const sglangReasoning = sglangShare === null ? null : Math.floor(completion * sglangShare);
          const usage: Record<string, unknown> = { prompt_tokens: prompt, completion_tokens: completion };
          if (cacheMode === 'null-details') usage.prompt_tokens_details = null;
          if (cacheMode === 'null-cached') usage.prompt_tokens_details = { cached_tokens: null };
          if (cacheMode === 'reported') usage.prompt_tokens_details = { cached_tokens: cached };
          if (reasoning !== null) usage.completion_tokens_details = { reasoning_tokens: reasoning };
          if (sglangReasoning !== null) usage.reasoning_tokens = sglangReasoning;

          const r = ok(normalizeUsage(endpoint, usage));
          expect(r.tokens.input + r.tokens.cachedInput).toBe(prompt);
          expect(r.tokens.output).toBe(completion);
          expect(r.tokens.cachedInput).toBe(cacheMode === 'reported' ? cached : 0);
          expect(r.cacheReported).toBe(cacheMode === 'reported');
        },
      ),
    );
  });

  it('responses: input + cachedInput = input_tokens, output = output_tokens', () => {
    fc.assert(
      fc.property(count, fc.float({ min: 0, max: 1, noNaN: true }), fc.boolean(), count, fc.option(fc.float({ min: 0, max: 1, noNaN: true }), { nil: null }), (input, share, reported, output, reasoningShare) => {
        const cached = Math.floor(input * share);
        const reasoning = reasoningShare === null ? null : Math.floor(output * reasoningShare);
        const usage: Record<string, unknown> = { input_tokens: input, output_tokens: output };
        if (reported) usage.input_tokens_details = { cached_tokens: cached };
        if (reasoning !== null) usage.output_tokens_details = { reasoning_tokens: reasoning };

        const r = ok(normalizeUsage('/v1/responses', usage));
        expect(r.tokens.input + r.tokens.cachedInput).toBe(input);
        expect(r.tokens.output).toBe(output);
        expect(r.cacheReported).toBe(reported);
      }),
    );
  });

  it('messages: input + cachedInput = input + creation + read = totalInput, output = output_tokens', () => {
    fc.assert(
      fc.property(count, maybeCount, maybeCount, count, (input, creation, read, output) => {
        const usage: Record<string, unknown> = { input_tokens: input, output_tokens: output };
        if (creation !== null) usage.cache_creation_input_tokens = creation;
        if (read !== null) usage.cache_read_input_tokens = read;

        const r = ok(normalizeUsage('/v1/messages', usage));
        const all = input + (creation ?? 0) + (read ?? 0);
        expect(r.tokens.input + r.tokens.cachedInput).toBe(all);
        expect(r.totalInput).toBe(all);
        expect(r.tokens.cachedInput).toBe(read ?? 0);
        expect(r.tokens.output).toBe(output);
      }),
    );
  });
});

describe('normalizeUsage: usage that contradicts itself is inconsistent_usage', () => {
  const detail = (r: NormalizedUsage) => (r.ok ? 'ok' : `${r.reason}: ${r.detail}`);

  describe.each(['/v1/chat/completions', '/v1/completions'] as const)('%s', (endpoint) => {
    it('rejects completion_tokens_details.reasoning_tokens greater than completion_tokens', () => {
      const r = normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 300, completion_tokens_details: { reasoning_tokens: 301 } });
      expect(detail(r)).toBe(
        'inconsistent_usage: usage.completion_tokens_details.reasoning_tokens (301) is greater than usage.completion_tokens (300), which includes it.',
      );
    });

    it("rejects SGLang's top-level reasoning_tokens greater than completion_tokens", () => {
      const r = normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 300, reasoning_tokens: 400 });
      expect(detail(r)).toBe('inconsistent_usage: usage.reasoning_tokens (400) is greater than usage.completion_tokens (300), which includes it.');
    });

    it('accepts a reasoning count equal to the output (a reply that is all reasoning)', () => {
      const r = ok(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 300, reasoning_tokens: 300, completion_tokens_details: { reasoning_tokens: 300 } }));
      expect(r.tokens).toEqual({ input: 10, cachedInput: 0, output: 300 });
    });

    it.each([14, 16, 0, 5])('rejects total_tokens %p when prompt_tokens + completion_tokens is 15', (total) => {
      const r = normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5, total_tokens: total });
      expect(detail(r)).toBe(`inconsistent_usage: usage.total_tokens (${total}) is not usage.prompt_tokens + usage.completion_tokens (10 + 5).`);
    });

    it('accepts total_tokens equal to prompt + completion, cached tokens included in the prompt', () => {
      const r = ok(normalizeUsage(endpoint, { prompt_tokens: 1000, completion_tokens: 20, total_tokens: 1020, prompt_tokens_details: { cached_tokens: 900 } }));
      expect(r.tokens).toEqual({ input: 100, cachedInput: 900, output: 20 });
    });

    it('accepts a null total_tokens or reasoning count as not reported', () => {
      const r = ok(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5, total_tokens: null, reasoning_tokens: null, completion_tokens_details: { reasoning_tokens: null } }));
      expect(r.tokens).toEqual({ input: 10, cachedInput: 0, output: 5 });
    });

    it('reports a count that is not a count as invalid_token_count first', () => {
      expect(reason(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5, total_tokens: -15 }))).toBe('invalid_token_count');
      expect(reason(normalizeUsage(endpoint, { prompt_tokens: 10, completion_tokens: 5, total_tokens: 99, reasoning_tokens: 1.5 }))).toBe('invalid_token_count');
    });

    it('reports cached greater than prompt as cached_exceeds_input before any inconsistency', () => {
      const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 99, prompt_tokens_details: { cached_tokens: 11 } };
      expect(reason(normalizeUsage(endpoint, usage))).toBe('cached_exceeds_input');
    });

    it('compares totals near the largest safe integer exactly', () => {
      const max = Number.MAX_SAFE_INTEGER;
      expect(reason(normalizeUsage(endpoint, { prompt_tokens: max - 1, completion_tokens: 1, total_tokens: max }))).toBe('ok');
      expect(reason(normalizeUsage(endpoint, { prompt_tokens: max - 1, completion_tokens: 2, total_tokens: max }))).toBe('inconsistent_usage');
    });
  });

  describe('/v1/responses', () => {
    const endpoint = '/v1/responses';

    it('rejects output_tokens_details.reasoning_tokens greater than output_tokens', () => {
      const r = normalizeUsage(endpoint, { input_tokens: 10, output_tokens: 120, output_tokens_details: { reasoning_tokens: 121 } });
      expect(detail(r)).toBe(
        'inconsistent_usage: usage.output_tokens_details.reasoning_tokens (121) is greater than usage.output_tokens (120), which includes it.',
      );
    });

    it('rejects a top-level reasoning_tokens greater than output_tokens', () => {
      const r = normalizeUsage(endpoint, { input_tokens: 10, output_tokens: 120, reasoning_tokens: 200 });
      expect(detail(r)).toBe('inconsistent_usage: usage.reasoning_tokens (200) is greater than usage.output_tokens (120), which includes it.');
    });

    it('rejects total_tokens that is not input_tokens + output_tokens', () => {
      const r = normalizeUsage(endpoint, { input_tokens: 1000, output_tokens: 120, total_tokens: 1000, input_tokens_details: { cached_tokens: 250 } });
      expect(detail(r)).toBe('inconsistent_usage: usage.total_tokens (1000) is not usage.input_tokens + usage.output_tokens (1000 + 120).');
    });

    it('accepts total_tokens equal to input_tokens + output_tokens', () => {
      const r = ok(normalizeUsage(endpoint, { input_tokens: 1000, output_tokens: 120, total_tokens: 1120, output_tokens_details: { reasoning_tokens: 120 } }));
      expect(r.tokens).toEqual({ input: 1000, cachedInput: 0, output: 120 });
    });

    it('does not read the chat-style completion_tokens_details (not part of this shape)', () => {
      const r = ok(normalizeUsage(endpoint, { input_tokens: 10, output_tokens: 5, completion_tokens_details: { reasoning_tokens: 50 } }));
      expect(r.tokens.output).toBe(5);
    });
  });

  describe('/v1/messages', () => {
    it('has no total or reasoning count in its shape, so fields of those names are not read', () => {
      const r = ok(normalizeUsage('/v1/messages', { input_tokens: 10, output_tokens: 5, total_tokens: 999, reasoning_tokens: 999 }));
      expect(r.tokens).toEqual({ input: 10, cachedInput: 0, output: 5 });
    });
  });

  it('never rejects consistent usage as inconsistent_usage, whatever optional fields it carries (property)', () => {
    const count = fc.nat({ max: 10_000_000 });
    const share = fc.option(fc.float({ min: 0, max: 1, noNaN: true }), { nil: undefined });
    const shapes = [
      { endpoint: '/v1/chat/completions', input: 'prompt_tokens', output: 'completion_tokens', inputDetails: 'prompt_tokens_details', outputDetails: 'completion_tokens_details' },
      { endpoint: '/v1/completions', input: 'prompt_tokens', output: 'completion_tokens', inputDetails: 'prompt_tokens_details', outputDetails: 'completion_tokens_details' },
      { endpoint: '/v1/responses', input: 'input_tokens', output: 'output_tokens', inputDetails: 'input_tokens_details', outputDetails: 'output_tokens_details' },
    ] as const;
    fc.assert(
      fc.property(
        fc.constantFrom(...shapes),
        count,
        count,
        share,
        share,
        share,
        fc.constantFrom('absent', 'null', 'sum'),
        (shape, input, output, cachedShare, detailsShare, topShare, totalMode) => {
          const usage: Record<string, unknown> = { [shape.input]: input, [shape.output]: output };
          if (cachedShare !== undefined) usage[shape.inputDetails] = { cached_tokens: Math.floor(input * cachedShare) };
          if (detailsShare !== undefined) usage[shape.outputDetails] = { reasoning_tokens: Math.floor(output * detailsShare) };
          if (topShare !== undefined) usage.reasoning_tokens = Math.floor(output * topShare);
          if (totalMode !== 'absent') usage.total_tokens = totalMode === 'null' ? null : input + output;
          const r = ok(normalizeUsage(shape.endpoint, usage));
          expect(r.tokens.input + r.tokens.cachedInput).toBe(input);
          expect(r.tokens.output).toBe(output);
        },
      ),
    );
  });
});
