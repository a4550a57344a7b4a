import { describe, it, expect } from '@jest/globals';
import { LAUNCH_CATALOG, LAUNCH_PRICES, resolveModel, type ModelSpec } from './catalog.js';
import { formatMoney } from './money.js';

describe('resolveModel', () => {
  it('resolves the canonical id', () => {
    expect(resolveModel(LAUNCH_CATALOG, 'qwen3-5-4b')?.id).toBe('qwen3-5-4b');
  });

  it.each(['Qwen3.5-4B', 'Qwen3.5 4B', 'Alibaba Cloud Qwen3.5 4B'])('resolves the alias %p', (alias) => {
    expect(resolveModel(LAUNCH_CATALOG, alias)?.id).toBe('qwen3-5-4b');
  });

  it.each(['qwen3.5-4b', 'QWEN3.5 4B', 'alibaba cloud qwen3.5 4b', 'QWEN3-5-4B'])(
    'matches %p case-insensitively',
    (name) => {
      expect(resolveModel(LAUNCH_CATALOG, name)?.id).toBe('qwen3-5-4b');
    },
  );

  it('ignores surrounding whitespace', () => {
    expect(resolveModel(LAUNCH_CATALOG, '  Qwen3.5-4B\n')?.id).toBe('qwen3-5-4b');
  });

  it.each(['qwen3.5', 'qwen3-5-4b-instruct', 'Qwen3.5  4B', '', '   ', 'gpt-4o'])('does not resolve %p', (name) => {
    expect(resolveModel(LAUNCH_CATALOG, name)).toBeUndefined();
  });

  it('picks the right model among several', () => {
    const catalog: ModelSpec[] = [
      ...LAUNCH_CATALOG,
      { id: 'other-model', aliases: ['Other Model'], contextWindow: 8192, maxOutputTokens: 1024 },
    ];
    expect(resolveModel(catalog, 'other model')?.id).toBe('other-model');
    expect(resolveModel(catalog, 'qwen3.5-4b')?.id).toBe('qwen3-5-4b');
  });
});

describe('launch catalog and prices', () => {
  it('lists qwen3-5-4b with a 262144-token context window and 32768 max output', () => {
    expect(LAUNCH_CATALOG).toEqual([
      {
        id: 'qwen3-5-4b',
        aliases: ['Qwen3.5-4B', 'Qwen3.5 4B', 'Alibaba Cloud Qwen3.5 4B'],
        contextWindow: 262144,
        maxOutputTokens: 32768,
      },
    ]);
  });

  it('prices qwen3-5-4b at 0.04 / 0.07 / 0.02 per million in version 1 from 2026-01-01T00:00:00Z', () => {
    const price = LAUNCH_PRICES.prices['qwen3-5-4b'];
    expect(LAUNCH_PRICES.version).toBe(1);
    expect(LAUNCH_PRICES.effectiveFrom.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(formatMoney(price.inputPerMillion)).toBe('0.04');
    expect(formatMoney(price.outputPerMillion)).toBe('0.07');
    expect(formatMoney(price.cachedInputPerMillion)).toBe('0.02');
  });
});
