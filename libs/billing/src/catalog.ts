import { Money } from './money.js';
import type { RateCardVersion } from './rate-card.js';

export interface ModelSpec {
  id: string;
  aliases: string[];
  contextWindow: number;
  maxOutputTokens: number;
}

const normalizeName = (name: string): string => name.trim().toLowerCase();

/** Finds a model by canonical id or alias, case-insensitively, ignoring surrounding whitespace. */
export function resolveModel(catalog: readonly ModelSpec[], name: string): ModelSpec | undefined {
  if (typeof name !== 'string') return undefined;
  const wanted = normalizeName(name);
  if (wanted === '') return undefined;
  return catalog.find(
    (m) => normalizeName(m.id) === wanted || m.aliases.some((a) => normalizeName(a) === wanted),
  );
}

/** The launch catalog, as the migrations seed it. */
export const LAUNCH_CATALOG: ModelSpec[] = [
  {
    id: 'qwen3-5-4b',
    aliases: ['Qwen3.5-4B', 'Qwen3.5 4B', 'Alibaba Cloud Qwen3.5 4B'],
    contextWindow: 262144,
    maxOutputTokens: 32768,
  },
];

/** Rate card version 1 (the launch prices), USD per million tokens, as the migrations seed it. */
export const LAUNCH_PRICES: RateCardVersion = {
  version: 1,
  effectiveFrom: new Date('2026-01-01T00:00:00Z'),
  prices: {
    'qwen3-5-4b': {
      inputPerMillion: new Money('0.04'),
      outputPerMillion: new Money('0.07'),
      cachedInputPerMillion: new Money('0.02'),
    },
  },
};
