import { Money } from './money.js';
import type { ModelPrice } from './rate-card.js';
import type { BillableTokens } from './usage.js';

const MILLION = new Money(1_000_000);

/**
 * cost = input × inputPerMillion / 1e6 + cachedInput × cachedInputPerMillion / 1e6
 *      + output × outputPerMillion / 1e6, exact (never rounded).
 */
export function priceTokens(tokens: BillableTokens, price: ModelPrice): Money {
  // One division for the three classes: the sum of exact products divided by 1e6 is exact too.
  return toTokenCount(tokens.input)
    .times(price.inputPerMillion)
    .plus(toTokenCount(tokens.cachedInput).times(price.cachedInputPerMillion))
    .plus(toTokenCount(tokens.output).times(price.outputPerMillion))
    .dividedBy(MILLION);
}

/**
 * tokens × perMillion / 1e6, exact. Tokens may be a bigint or an integer string
 * because aggregated token sums can exceed 2^53.
 */
export function lineAmount(tokens: number | bigint | string, perMillion: Money): Money {
  return toTokenCount(tokens).times(perMillion).dividedBy(MILLION);
}

function toTokenCount(tokens: number | bigint | string): Money {
  if (typeof tokens === 'number' && Number.isSafeInteger(tokens) && tokens >= 0) return new Money(tokens);
  if (typeof tokens === 'bigint' && tokens >= 0n) return new Money(tokens.toString());
  if (typeof tokens === 'string' && /^\d{1,40}$/.test(tokens)) return new Money(tokens);
  throw new RangeError(`token count must be a non-negative integer, got ${String(tokens)}`);
}
