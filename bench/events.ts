import { createHash } from 'node:crypto';
import { Money } from '@app/billing';
import { ENDPOINT, PRICES } from './config.js';

/** A usage event exactly as a producer sends it (docs/integration.md, the /v1/chat/completions shape). */
export interface BenchEvent {
  event_id: string;
  account_id: string;
  model: string;
  endpoint: string;
  occurred_at: string;
  usage: { prompt_tokens: number; completion_tokens: number; prompt_tokens_details: { cached_tokens: number } };
}

export interface EventSet {
  events: BenchEvent[];
  /** Exact cost of each event, computed here with decimal.js, independently of the app's pricing code. */
  costs: Money[];
  /** account_id -> balance once every event is billed (every account starts at 0). */
  expected: Map<string, Money>;
}

const MILLION = new Money(1_000_000);
const RATE = { input: new Money(PRICES.input), cached: new Money(PRICES.cachedInput), output: new Money(PRICES.output) };

/** (P−K)×input/1e6 + K×cached/1e6 + C×output/1e6, exact. */
export function expectedCost(prompt: number, cached: number, completion: number): Money {
  return new Money(prompt - cached)
    .times(RATE.input)
    .plus(new Money(cached).times(RATE.cached))
    .plus(new Money(completion).times(RATE.output))
    .dividedBy(MILLION);
}

/** mulberry32: a small seeded PRNG so every run bills the same token counts. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const accountId = (i: number): string => `bench-${String(i).padStart(5, '0')}`;
export const accountIds = (n: number): string[] => Array.from({ length: n }, (_, i) => accountId(i));

/**
 * n valid events over `accounts` accounts, each account picked at random, with ids
 * `b-<run>-<tag>-<i>`. Prompts of 50-8000 tokens, half of them with a cache hit, 1-2000 completion
 * tokens (so no event is free and a balance is exact only once each of its events is billed),
 * occurred within the last minute.
 */
export function makeEvents(opts: { run: string; tag: string; n: number; accounts: number; seed: number }): EventSet {
  const random = prng(opts.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const now = Date.now();
  const events: BenchEvent[] = new Array(opts.n);
  const costs: Money[] = new Array(opts.n);
  const expected = new Map<string, Money>(accountIds(opts.accounts).map((id) => [id, new Money(0)]));
  for (let i = 0; i < opts.n; i++) {
    const account = accountId(int(0, opts.accounts - 1));
    const prompt = int(50, 8000);
    const cached = random() < 0.5 ? 0 : int(0, prompt);
    const completion = int(1, 2000);
    events[i] = {
      event_id: `b-${opts.run}-${opts.tag}-${i}`,
      account_id: account,
      model: PRICES.model,
      endpoint: ENDPOINT,
      occurred_at: new Date(now - int(0, 60_000)).toISOString(),
      usage: { prompt_tokens: prompt, completion_tokens: completion, prompt_tokens_details: { cached_tokens: cached } },
    };
    costs[i] = expectedCost(prompt, cached, completion);
    expected.set(account, expected.get(account)!.minus(costs[i]));
  }
  return { events, costs, expected };
}

/** Splits into consecutive chunks of at most `size`. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A stand-in content hash for the batched-SQL ceiling (same width as the app's sha256 hex). */
export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');
