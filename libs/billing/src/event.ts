import { hash } from 'node:crypto';
import { resolveModel, type ModelSpec } from './catalog.js';
import { MAX_HOLD_ID_LENGTH } from './holds.js';
import { canonicalJson, inspectJson, isPlainObject, isStorableString, ownField } from './json.js';
import type { Money } from './money.js';
import { priceTokens } from './pricing.js';
import { priceFor, rateCardAt, type RateCardVersion } from './rate-card.js';
import { ENDPOINTS, isEndpoint, normalizeUsage, type BillableTokens, type Endpoint } from './usage.js';

export { canonicalJson } from './json.js';

/** Every reason an event can be rejected for, in the order the checks run. */
export const REJECTION_REASONS = [
  'invalid_payload',
  'invalid_event_id',
  'invalid_account_id',
  'unknown_account', // checked by the caller, in SQL
  'unknown_endpoint',
  'unknown_model',
  'invalid_timestamp',
  'timestamp_in_future',
  'before_first_rate_card',
  'model_not_priced',
  'invalid_metadata',
  'metadata_too_large',
  'invalid_hold_id',
  'invalid_usage_shape',
  'invalid_token_count',
  'cached_exceeds_input',
  'inconsistent_usage', // counts that contradict each other: the limits below would judge untrustworthy numbers
  'context_window_exceeded',
  'max_output_exceeded',
  'conflict', // same event_id, other content: decided by the caller
  'invalid_job', // unknown job name or malformed job: decided by the caller
] as const;
export type RejectionReason = (typeof REJECTION_REASONS)[number];

/**
 * Reasons that depend on the moment, not on the event: the same event can be priced when it is
 * sent again later, once its account exists, once a gateway's clock is right (the timestamp is no
 * longer ahead), once the catalog has its model. Every other reason follows from the event's
 * content alone, so the same content is rejected again, whenever it comes.
 */
export const REASONS_THAT_CAN_PASS: readonly RejectionReason[] = ['unknown_account', 'timestamp_in_future', 'unknown_model'];

export function isRejectionReason(value: unknown): value is RejectionReason {
  return typeof value === 'string' && (REJECTION_REASONS as readonly string[]).includes(value);
}

export const MAX_EVENT_ID_LENGTH = 128;
export const MAX_ACCOUNT_ID_LENGTH = 64;
export const MAX_METADATA_BYTES = 4096;
/** A usage object is a few hundred bytes; anything far larger is not one. */
export const MAX_USAGE_BYTES = 16384;
/** How far ahead of the service's clock occurred_at may be (clock skew). */
export const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

export interface PricedEvent {
  eventId: string;
  accountId: string;
  /** Canonical model id. */
  model: string;
  endpoint: Endpoint;
  occurredAt: Date;
  tokens: BillableTokens;
  cacheReported: boolean;
  rateCardVersion: number;
  cost: Money;
  metadata: Record<string, unknown> | null;
  /** usage and metadata as canonical JSON text (what is stored and hashed), written once. */
  usageJson: string;
  metadataJson: string | null;
  /** The spend hold this request was served under, settled when the event is priced. */
  holdId: string | null;
  /** The usage object as received. */
  usage: Record<string, unknown>;
  /** sha256 hex of the canonical content; equal for re-sends of the same request. */
  contentHash: string;
}

export interface ValidationContext {
  catalog: readonly ModelSpec[];
  rateCards: readonly RateCardVersion[];
  now: Date;
}

export type EventValidation =
  | { ok: true; event: PricedEvent }
  | { ok: false; reason: RejectionReason; detail: string; eventId: string | null };

const codePoints = (s: string): number => [...s].length;

function checkId(value: unknown, name: string, max: number): string | null {
  if (typeof value !== 'string') return `${name} must be a string.`;
  // A string has at most as many code points as UTF-16 units, so only a long one needs counting.
  const n = value.length > max ? codePoints(value) : value.length;
  if (n < 1 || n > max) return `${name} must be 1 to ${max} characters long, got ${n}.`;
  if (!isStorableString(value)) return `${name} must not contain NUL characters or unpaired surrogates.`;
  return null;
}

// RFC 3339 date-time: ISO-8601 with seconds and a mandatory offset (Z or ±hh:mm).
const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:[Zz]|([+-])(\d{2}):(\d{2}))$/;

const isLeapYear = (y: number): boolean => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysInMonth = (y: number, m: number): number => (m === 2 && isLeapYear(y) ? 29 : DAYS_IN_MONTH[m - 1]);
/** 400 Gregorian years, in ms: Date.UTC reads years 0-99 as 1900-1999, so those are computed 400 years on and moved back. */
const GREGORIAN_CYCLE_MS = 146_097 * 86_400_000;

/**
 * Parses an ISO-8601 timestamp that carries an offset ("2026-11-24T10:00:00Z",
 * "2026-11-24T10:00:00.123+02:00"); null for anything else, including impossible dates
 * (month 13, February 30) and timestamps without an offset. Digits beyond milliseconds
 * are truncated (a Date holds milliseconds).
 */
export function parseTimestamp(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  // Every event passes here: beside the regex's match, it makes only the Date it returns.
  const m = TIMESTAMP.exec(value);
  if (!m) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  const fraction = m[7];
  const millis = fraction === undefined ? 0 : Number(fraction.length >= 3 ? fraction.slice(0, 3) : fraction.padEnd(3, '0'));
  const sign = m[8] === '-' ? -1 : 1;
  const offsetHours = m[9] === undefined ? 0 : Number(m[9]);
  const offsetMinutes = m[10] === undefined ? 0 : Number(m[10]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  if (hour > 23 || minute > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return null;
  const early = year < 100;
  const utc = Date.UTC(early ? year + 400 : year, month - 1, day, hour, minute, second, millis) - (early ? GREGORIAN_CYCLE_MS : 0);
  return new Date(utc - sign * (offsetHours * 60 + offsetMinutes) * 60_000);
}

interface EventContent {
  eventId: string;
  accountId: string;
  model: string;
  endpoint: Endpoint;
  occurredAt: Date;
  usage: Record<string, unknown>;
  metadata: Record<string, unknown> | null;
  holdId?: string | null;
}

/** sha256 hex of the canonical JSON of an event's billable content. */
export function eventContentHash(content: EventContent): string {
  return hash('sha256', eventContentJson(content), 'hex');
}

/**
 * The same, from usage and metadata already written as canonical JSON (the hot path's). The
 * one-shot hash() (strings as UTF-8) costs under half of createHash().update().digest() here.
 */
const contentHashOf = (content: Omit<EventContent, 'usage' | 'metadata'> & { usageJson: string; metadataJson: string | null }): string =>
  hash('sha256', contentText(content), 'hex');

/**
 * canonicalJson of { event_id, account_id, model, endpoint, occurred_at, usage, metadata } (and
 * hold_id, only when the event carries one, so the text of every event without one is as it was),
 * written out in its sorted key order instead of sorting the keys of a new object per event
 * (the hot path does this for every event). The text must never change: stored content hashes
 * are compared with it to tell a redelivery from a conflict. A property test holds it equal to
 * canonicalJson.
 */
export function eventContentJson(content: EventContent): string {
  return contentText({ ...content, usageJson: canonicalJson(content.usage), metadataJson: content.metadata === null ? null : canonicalJson(content.metadata) });
}

function contentText(content: Omit<EventContent, 'usage' | 'metadata'> & { usageJson: string; metadataJson: string | null }): string {
  return (
    `{"account_id":${JSON.stringify(content.accountId)},"endpoint":${JSON.stringify(content.endpoint)}` +
    `,"event_id":${JSON.stringify(content.eventId)}${content.holdId ? `,"hold_id":${JSON.stringify(content.holdId)}` : ''},"metadata":${content.metadataJson ?? 'null'}` +
    `,"model":${JSON.stringify(content.model)},"occurred_at":"${content.occurredAt.toISOString()}"` +
    `,"usage":${content.usageJson}}`
  );
}

/**
 * Validates and prices one raw usage event (a queue job's data or one element of an
 * HTTP batch). Does not check that the account exists (the caller does, in SQL,
 * rejecting with `unknown_account`) nor idempotency (`conflict`).
 */
export function validateUsageEvent(raw: unknown, ctx: ValidationContext): EventValidation {
  return inspectUsageEvent(raw, ctx, true) as EventValidation;
}

/**
 * The same checks as validateUsageEvent, without pricing the event or hashing its content:
 * for a caller that only needs accept or reject (HTTP ingest, before the worker prices it).
 */
export function checkUsageEvent(
  raw: unknown,
  ctx: ValidationContext,
): { ok: true; eventId: string; accountId: string } | { ok: false; reason: RejectionReason; detail: string; eventId: string | null } {
  return inspectUsageEvent(raw, ctx, false) as ReturnType<typeof checkUsageEvent>;
}

function inspectUsageEvent(raw: unknown, ctx: ValidationContext, priced: boolean) {
  let eventId: string | null = null;
  const reject = (reason: RejectionReason, detail: string): EventValidation => ({ ok: false, reason, detail, eventId });

  if (!isPlainObject(raw)) return reject('invalid_payload', 'The event must be a JSON object.');

  const rawEventId = ownField(raw, 'event_id');
  const eventIdProblem = checkId(rawEventId, 'event_id', MAX_EVENT_ID_LENGTH);
  if (eventIdProblem) return reject('invalid_event_id', eventIdProblem);
  eventId = rawEventId as string;

  const rawAccountId = ownField(raw, 'account_id');
  const accountIdProblem = checkId(rawAccountId, 'account_id', MAX_ACCOUNT_ID_LENGTH);
  if (accountIdProblem) return reject('invalid_account_id', accountIdProblem);
  const accountId = rawAccountId as string;

  const endpoint = ownField(raw, 'endpoint');
  if (!isEndpoint(endpoint)) {
    return reject('unknown_endpoint', `endpoint must be one of ${ENDPOINTS.join(', ')}.`);
  }

  const modelName = ownField(raw, 'model');
  const model = typeof modelName === 'string' ? resolveModel(ctx.catalog, modelName) : undefined;
  if (!model) {
    const shown = typeof modelName === 'string' ? JSON.stringify(modelName.slice(0, 200)) : 'missing or not a string';
    return reject('unknown_model', `model ${shown} is not in the catalog.`);
  }

  const occurredAt = parseTimestamp(ownField(raw, 'occurred_at'));
  if (!occurredAt) {
    return reject(
      'invalid_timestamp',
      'occurred_at must be an ISO-8601 timestamp with an offset, such as "2026-11-24T10:00:00Z".',
    );
  }
  if (occurredAt.getTime() > ctx.now.getTime() + MAX_FUTURE_SKEW_MS) {
    return reject(
      'timestamp_in_future',
      `occurred_at ${occurredAt.toISOString()} is more than 5 minutes after now (${ctx.now.toISOString()}).`,
    );
  }

  const rateCard = rateCardAt(ctx.rateCards, occurredAt);
  if (!rateCard) {
    return reject('before_first_rate_card', `No rate card is in effect at ${occurredAt.toISOString()}.`);
  }
  const price = priceFor(rateCard, model.id);
  if (!price) {
    return reject('model_not_priced', `Rate card version ${rateCard.version} has no price for ${model.id}.`);
  }

  const rawMetadata = ownField(raw, 'metadata');
  let metadata: Record<string, unknown> | null = null;
  let metadataJson: string | null = null;
  if (rawMetadata !== undefined && rawMetadata !== null) {
    if (!isPlainObject(rawMetadata)) return reject('invalid_metadata', 'metadata must be a JSON object or null.');
    const inspected = inspectJson(rawMetadata);
    if (inspected.problem !== undefined) return reject('invalid_metadata', `metadata ${inspected.problem}.`);
    const bytes = Buffer.byteLength(inspected.text, 'utf8');
    if (bytes > MAX_METADATA_BYTES) {
      return reject('metadata_too_large', `metadata is ${bytes} bytes of JSON; at most ${MAX_METADATA_BYTES} are allowed.`);
    }
    metadata = rawMetadata;
    metadataJson = inspected.text;
  }

  const rawHoldId = ownField(raw, 'hold_id');
  let holdId: string | null = null;
  if (rawHoldId !== undefined && rawHoldId !== null) {
    const holdIdProblem = checkId(rawHoldId, 'hold_id', MAX_HOLD_ID_LENGTH);
    if (holdIdProblem) return reject('invalid_hold_id', holdIdProblem);
    holdId = rawHoldId as string;
  }

  const usage = ownField(raw, 'usage');
  let usageJson = '';
  if (isPlainObject(usage)) {
    const inspected = inspectJson(usage);
    if (inspected.problem !== undefined) return reject('invalid_usage_shape', `usage ${inspected.problem}.`);
    const bytes = Buffer.byteLength(inspected.text, 'utf8');
    if (bytes > MAX_USAGE_BYTES) {
      return reject('invalid_usage_shape', `usage is ${bytes} bytes of JSON; at most ${MAX_USAGE_BYTES} are allowed.`);
    }
    usageJson = inspected.text;
  }
  const normalized = normalizeUsage(endpoint, usage);
  if (!normalized.ok) return reject(normalized.reason, normalized.detail);
  const usageObject = usage as Record<string, unknown>;

  if (normalized.totalInput > model.contextWindow) {
    return reject(
      'context_window_exceeded',
      `${normalized.totalInput} input tokens exceed the ${model.contextWindow}-token context window of ${model.id}.`,
    );
  }
  if (normalized.tokens.output > model.maxOutputTokens) {
    return reject(
      'max_output_exceeded',
      `${normalized.tokens.output} output tokens exceed the ${model.maxOutputTokens}-token max output of ${model.id}.`,
    );
  }

  if (!priced) return { ok: true as const, eventId, accountId };
  return {
    ok: true,
    event: {
      eventId,
      accountId,
      model: model.id,
      endpoint,
      occurredAt,
      tokens: normalized.tokens,
      cacheReported: normalized.cacheReported,
      rateCardVersion: rateCard.version,
      cost: priceTokens(normalized.tokens, price),
      metadata,
      holdId,
      usage: usageObject,
      usageJson,
      metadataJson,
      contentHash: contentHashOf({ eventId, accountId, model: model.id, endpoint, occurredAt, usageJson, metadataJson, holdId }),
    },
  };
}
