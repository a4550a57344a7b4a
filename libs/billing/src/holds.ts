import { resolveModel, type ModelSpec } from './catalog.js';
import { isPlainObject, isStorableString, ownField } from './json.js';
import { LEDGER_SCALE, Money, formatMoney, parseDecimal } from './money.js';
import { lineAmount } from './pricing.js';
import { priceFor, rateCardAt, type RateCardVersion } from './rate-card.js';

/**
 * Spend holds: before it serves a request the gateway reserves the most the request can cost.
 * available = balance − Σ active holds; a hold is taken only when it fits in what is available.
 * A hold is active from its creation until it is settled (by the event that carries its id),
 * released, or its expires_at comes, exactly: expiry is a comparison with the clock, never a
 * sweeper's promise.
 */

export const HOLD_STATUSES = ['active', 'settled', 'released', 'expired'] as const;
export type HoldStatus = (typeof HOLD_STATUSES)[number];

export const MAX_HOLD_ID_LENGTH = 128;
export const DEFAULT_HOLD_TTL_SECONDS = 300;
export const MAX_HOLD_TTL_SECONDS = 3600;
/** A hold larger than this is refused as a typo (a trillion dollars). */
const MAX_HOLD_INTEGER_DIGITS = 12;

/** A request to hold: what it holds, for how long, under which id (null: the service names it). */
export interface HoldRequest {
  holdId: string | null;
  amount: Money;
  ttlSeconds: number;
  /** How the amount was asked for, as given (the idempotency of hold_id compares it). */
  basis: { amount: string } | { estimate: { model: string; input_tokens: number; max_output_tokens: number } };
}

export type HoldRequestResult = { ok: true; request: HoldRequest } | { ok: false; status: 400 | 422; errors: { field: string; message: string }[] };

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Reads `{ hold_id?, amount? | estimate?, ttl_seconds? }`: exactly one of amount (a decimal
 * string > 0, at most 18 decimals) and estimate ({ model, input_tokens, max_output_tokens },
 * priced at the rate card in effect at `now` as input × input rate + max output × output rate,
 * per million, no cache assumed; the model must be known and priced, the tokens within its
 * limits); ttl_seconds a whole number 1-3600 (default 300); hold_id 1-128 characters.
 */
export function parseHoldRequest(body: unknown, ctx: { catalog: readonly ModelSpec[]; rateCards: readonly RateCardVersion[]; now: Date }): HoldRequestResult {
  if (!isPlainObject(body)) return { ok: false, status: 400, errors: [{ field: 'body', message: 'must be a JSON object' }] };
  const errors: { field: string; message: string }[] = [];
  const rawId = ownField(body, 'hold_id');
  let holdId: string | null = null;
  if (rawId !== undefined && rawId !== null) {
    const length = typeof rawId === 'string' ? [...rawId].length : 0;
    if (typeof rawId !== 'string' || length < 1 || length > MAX_HOLD_ID_LENGTH || !isStorableString(rawId) || /[\u0000-\u001f\u007f]/.test(rawId)) {
      errors.push({ field: 'hold_id', message: `must be a string of 1 to ${MAX_HOLD_ID_LENGTH} printable characters` });
    } else holdId = rawId;
  }
  const rawTtl = ownField(body, 'ttl_seconds');
  let ttlSeconds = DEFAULT_HOLD_TTL_SECONDS;
  if (rawTtl !== undefined && rawTtl !== null) {
    if (typeof rawTtl !== 'number' || !Number.isInteger(rawTtl) || rawTtl < 1 || rawTtl > MAX_HOLD_TTL_SECONDS) {
      errors.push({ field: 'ttl_seconds', message: `must be a whole number of seconds from 1 to ${MAX_HOLD_TTL_SECONDS}` });
    } else ttlSeconds = rawTtl;
  }
  const rawAmount = ownField(body, 'amount');
  const rawEstimate = ownField(body, 'estimate');
  const hasAmount = rawAmount !== undefined && rawAmount !== null;
  const hasEstimate = rawEstimate !== undefined && rawEstimate !== null;
  let amount: Money | null = null;
  let basis: HoldRequest['basis'] | null = null;
  if (hasAmount === hasEstimate) {
    errors.push({ field: hasAmount ? 'estimate' : 'amount', message: 'give exactly one of amount and estimate' });
  } else if (hasAmount) {
    const parsed = parseDecimal(rawAmount, { field: 'amount', maxScale: LEDGER_SCALE, maxIntegerDigits: MAX_HOLD_INTEGER_DIGITS, allowNegative: false, allowZero: false });
    if (!parsed.ok) errors.push({ field: 'amount', message: parsed.message });
    else {
      amount = parsed.value;
      basis = { amount: formatMoney(parsed.value) };
    }
  } else {
    const priced = priceEstimate(rawEstimate, ctx);
    if (!priced.ok) errors.push(...priced.errors);
    else {
      amount = priced.amount;
      basis = { estimate: priced.estimate };
    }
  }
  if (errors.length) return { ok: false, status: 422, errors };
  return { ok: true, request: { holdId, amount: amount!, ttlSeconds, basis: basis! } };
}

type Estimate = { model: string; input_tokens: number; max_output_tokens: number };

/** The most a request can cost: its input at the input rate and all its output allowance at the output rate. */
export function priceEstimate(
  raw: unknown,
  ctx: { catalog: readonly ModelSpec[]; rateCards: readonly RateCardVersion[]; now: Date },
): { ok: true; amount: Money; estimate: Estimate } | { ok: false; errors: { field: string; message: string }[] } {
  if (!isPlainObject(raw)) return { ok: false, errors: [{ field: 'estimate', message: 'must be { "model", "input_tokens", "max_output_tokens" }' }] };
  const errors: { field: string; message: string }[] = [];
  const name = ownField(raw, 'model');
  const model = typeof name === 'string' ? resolveModel(ctx.catalog, name) : undefined;
  if (!model) errors.push({ field: 'estimate.model', message: 'is not a model in the catalog' });
  const input = ownField(raw, 'input_tokens');
  const output = ownField(raw, 'max_output_tokens');
  if (!isCount(input)) errors.push({ field: 'estimate.input_tokens', message: 'must be a non-negative whole number' });
  else if (model && input > model.contextWindow) errors.push({ field: 'estimate.input_tokens', message: `exceeds the ${model.contextWindow}-token context window of ${model.id}` });
  if (!isCount(output)) errors.push({ field: 'estimate.max_output_tokens', message: 'must be a non-negative whole number' });
  else if (model && output > model.maxOutputTokens) errors.push({ field: 'estimate.max_output_tokens', message: `exceeds the ${model.maxOutputTokens}-token max output of ${model.id}` });
  if (errors.length || !model) return { ok: false, errors };
  const card = rateCardAt(ctx.rateCards, ctx.now);
  const price = card ? priceFor(card, model.id) : undefined;
  if (!price) return { ok: false, errors: [{ field: 'estimate.model', message: `has no price in effect now` }] };
  const amount = lineAmount(input as number, price.inputPerMillion).add(lineAmount(output as number, price.outputPerMillion));
  if (!amount.gt(0)) return { ok: false, errors: [{ field: 'estimate', message: 'prices to nothing: a hold must be greater than zero' }] };
  return { ok: true, amount, estimate: { model: model.id, input_tokens: input as number, max_output_tokens: output as number } };
}

/** A hold's status at `now`, from what ended it (if anything) and its expiry. */
export function holdStatus(hold: { endKind: 'settled' | 'released' | null; expiresAt: Date }, now: Date): HoldStatus {
  if (hold.endKind) return hold.endKind;
  return hold.expiresAt.getTime() > now.getTime() ? 'active' : 'expired';
}

/** available = balance − held. */
export const availableOf = (balance: Money, held: Money): Money => balance.sub(held);

/** Tells hold_id idempotency whether a second request for the same id is the same request. */
export function holdRequestKey(accountId: string, request: HoldRequest): string {
  return JSON.stringify({ account_id: accountId, ...request.basis, ttl_seconds: request.ttlSeconds });
}
