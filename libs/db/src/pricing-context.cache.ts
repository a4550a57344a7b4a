import { Injectable } from '@nestjs/common';
import { UsageRepository, type PricingContext } from './repositories/usage.repository.js';

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

  constructor(private readonly usage: UsageRepository) {}

  get(): Promise<PricingContext> {
    const now = Date.now();
    if (!this.cached || now - this.cached.at > PRICING_CONTEXT_TTL_MS) {
      const value = this.usage.pricingContext();
      this.cached = { at: now, value };
      value.catch(() => {
        if (this.cached?.value === value) this.cached = undefined;
      });
    }
    return this.cached.value;
  }
}
