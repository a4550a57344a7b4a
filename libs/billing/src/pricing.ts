import { Money } from './money.js';
import type { ModelPrice } from './rate-card.js';
import type { BillableTokens } from './usage.js';

const MILLION = new Money(1_000_000);

/**
 * cost = input × inputPerMillion / 1e6 + cachedInput × cachedInputPerMillion / 1e6
 *      + output × outputPerMillion / 1e6, exact (never rounded).
 */
export function priceTokens(tokens: BillableTokens, price: ModelPrice): Money {
  const perToken = perTokenPrices(price);
  return toTokenCount(tokens.input)
    .times(perToken.input)
    .plus(toTokenCount(tokens.cachedInput).times(perToken.cachedInput))
    .plus(toTokenCount(tokens.output).times(perToken.output));
}

/**
 * A price per million divided by 1e6 once per rate card price, not once per event: dividing a
 * decimal by a power of ten is exact, so tokens × (perMillion / 1e6) is the same exact value as
 * tokens × perMillion / 1e6.
 */
const perTokenCache = new WeakMap<ModelPrice, { input: Money; cachedInput: Money; output: Money }>();
function perTokenPrices(price: ModelPrice): { input: Money; cachedInput: Money; output: Money } {
  let perToken = perTokenCache.get(price);
  if (!perToken) {
    perToken = {
      input: new Money(price.inputPerMillion).dividedBy(MILLION),
      cachedInput: new Money(price.cachedInputPerMillion).dividedBy(MILLION),
      output: new Money(price.outputPerMillion).dividedBy(MILLION),
    };
    perTokenCache.set(price, perToken);
  }
  return perToken;
}

/**
 * tokens × perMillion / 1e6, exact. Tokens may be a bigint or an integer string
 * because aggregated token sums can exceed 2^53.
 */
export function lineAmount(tokens: number | bigint | string, perMillion: Money): Money {
  return toTokenCount(tokens).times(new Money(perMillion)).dividedBy(MILLION);
}

function toTokenCount(tokens: number | bigint | string): Money {
  if (typeof tokens === 'number' && Number.isSafeInteger(tokens) && tokens >= 0) return new Money(tokens);
  if (typeof tokens === 'bigint' && tokens >= 0n) return new Money(tokens.toString());
  if (typeof tokens === 'string' && /^\d{1,40}$/.test(tokens)) return new Money(tokens);
  throw new RangeError(`token count must be a non-negative integer, got ${String(tokens)}`);
}
