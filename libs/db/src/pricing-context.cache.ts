import { Injectable } from '@nestjs/common';
import type { ModelSpec, RateCardVersion } from '@app/billing';
import { CatalogRepository, toModelSpec, toRateCardVersion } from './repositories/catalog.repository.js';

export interface PricingContext {
  catalog: ModelSpec[];
  rateCards: RateCardVersion[];
}

/**
 * How long a process may price with a catalog and rate cards it read earlier. A new rate card
 * version must start at least RATE_CARD_MIN_LEAD_MS ahead (5 minutes of allowed clock skew on
 * occurred_at, plus far more than this), so no event is ever priced with a stale card.
 */
export const PRICING_CONTEXT_TTL_MS = 10_000;
export const RATE_CARD_MIN_LEAD_MS = 10 * 60_000;

@Injectable()
export class PricingContextCache {
  private cached: { at: number; value: Promise<PricingContext> } | undefined;

  constructor(private readonly catalog: CatalogRepository) {}

  get(): Promise<PricingContext> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > PRICING_CONTEXT_TTL_MS) {
      const value = this.load();
      this.cached = { at: now, value };
      value.catch(() => {
        if (this.cached?.value === value) this.cached = undefined;
      });
    }
    return this.cached.value;
  }

  private async load(): Promise<PricingContext> {
    const [models, cards] = await Promise.all([this.catalog.models(), this.catalog.rateCards()]);
    return { catalog: models.map(toModelSpec), rateCards: cards.map(toRateCardVersion) };
  }
}
