import type { Money } from './money.js';

export interface ModelPrice {
  inputPerMillion: Money;
  outputPerMillion: Money;
  cachedInputPerMillion: Money;
}

export interface RateCardVersion {
  version: number;
  effectiveFrom: Date;
  /** Keyed by canonical model id. */
  prices: Record<string, ModelPrice>;
}

/**
 * The version in effect at `at`: the greatest effectiveFrom <= at. An instant equal to
 * a version's effectiveFrom belongs to that (new) version. Versions may come unsorted;
 * should two share an effectiveFrom, the higher version number wins.
 */
export function rateCardAt(versions: readonly RateCardVersion[], at: Date): RateCardVersion | undefined {
  const t = at.getTime();
  let best: RateCardVersion | undefined;
  for (const v of versions) {
    const from = v.effectiveFrom.getTime();
    if (!(from <= t)) continue;
    const bestFrom = best?.effectiveFrom.getTime();
    if (best === undefined || bestFrom === undefined || from > bestFrom || (from === bestFrom && v.version > best.version)) best = v;
  }
  return best;
}

/** The price of `modelId` in `card`, if that card prices it (own keys only). */
export function priceFor(card: RateCardVersion, modelId: string): ModelPrice | undefined {
  return Object.hasOwn(card.prices, modelId) ? card.prices[modelId] : undefined;
}
