import { createHash } from 'node:crypto';
import { canonicalJson, isPlainObject, isStorableString, MAX_JSON_DEPTH } from './json.js';
import { type PricedEvent, type RejectionReason, type ValidationContext, validateUsageEvent } from './event.js';

/** A payload larger than this is kept as its first bytes only, with its size. */
export const MAX_STORED_PAYLOAD_BYTES = 64 * 1024;

/** An event that will not be priced, with why, and what was received. */
export interface Rejection {
  eventId: string | null;
  accountId: string | null;
  reason: RejectionReason;
  detail: string;
  /** What was received, made storable (see storablePayload). */
  payload: unknown;
  /** sha256 hex of the canonical payload: the same payload rejected for the same reason is recorded once. */
  payloadHash: string;
}

/** A priced event with the payload it was read from (kept for a rejection decided later). */
export interface Candidate {
  event: PricedEvent;
  raw: unknown;
}

/** The outcome of validating and de-duplicating the events of one flush. */
export interface BatchPlan {
  priced: Candidate[];
  rejections: Rejection[];
  /** Repeats of an event earlier in the same flush, with the same content. */
  duplicates: number;
}

const escapeUnstorable = (s: string): string =>
  isStorableString(s)
    ? s
    : s.replace(/\u0000|[\ud800-\udfff]/g, (c, offset: number, all: string) => {
        const code = c.charCodeAt(0);
        const pairedHigh = code >= 0xd800 && code <= 0xdbff && /[\udc00-\udfff]/.test(all[offset + 1] ?? '');
        const pairedLow = code >= 0xdc00 && code <= 0xdfff && /[\ud800-\udbff]/.test(all[offset - 1] ?? '');
        return pairedHigh || pairedLow ? c : `\\u${code.toString(16).padStart(4, '0')}`;
      });

function sanitize(value: unknown, depth: number): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string') return escapeUnstorable(value);
  if (typeof value === 'bigint') return value.toString();
  if (depth >= MAX_JSON_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) return value.map((item) => sanitize(item, depth + 1));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value as object)) {
      // defineProperty, not assignment: a "__proto__" key from JSON is data, and must stay a key.
      Object.defineProperty(out, escapeUnstorable(key), { value: sanitize(item, depth + 1), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return null; // undefined, functions, symbols: not JSON
}

/**
 * What was received, as JSON that Postgres jsonb accepts: NUL and unpaired surrogates are
 * written out as `\u....` text, nesting is cut at MAX_JSON_DEPTH, and anything over
 * MAX_STORED_PAYLOAD_BYTES is kept as its first bytes with its size.
 */
export function storablePayload(value: unknown): unknown {
  const clean = sanitize(value, 0);
  const text = JSON.stringify(clean) ?? 'null';
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes <= MAX_STORED_PAYLOAD_BYTES) return clean;
  return { truncated: true, bytes, head: escapeUnstorable(Buffer.from(text, 'utf8').subarray(0, 4096).toString('utf8')) };
}

export function rejection(raw: unknown, reason: RejectionReason, detail: string): Rejection {
  const payload = storablePayload(raw);
  const eventId = isPlainObject(raw) && typeof raw.event_id === 'string' && isStorableString(raw.event_id) ? raw.event_id.slice(0, 128) : null;
  const accountId = isPlainObject(raw) && typeof raw.account_id === 'string' && isStorableString(raw.account_id) ? raw.account_id.slice(0, 64) : null;
  const payloadHash = createHash('sha256').update(canonicalJson(payload)).digest('hex');
  return { eventId, accountId, reason, detail, payload, payloadHash };
}

/**
 * Validates every raw event of a flush and settles repeats inside it: the first occurrence of an
 * event_id counts; a later one with the same content is a duplicate, with other content a conflict.
 * Repeats of events already stored are settled by the caller against the database.
 */
export function planBatch(rawEvents: readonly unknown[], ctx: ValidationContext): BatchPlan {
  const plan: BatchPlan = { priced: [], rejections: [], duplicates: 0 };
  const seen = new Map<string, string>();
  for (const raw of rawEvents) {
    const result = validateUsageEvent(raw, ctx);
    if (!result.ok) {
      plan.rejections.push(rejection(raw, result.reason, result.detail));
      continue;
    }
    const { event } = result;
    const earlier = seen.get(event.eventId);
    if (earlier === undefined) {
      seen.set(event.eventId, event.contentHash);
      plan.priced.push({ event, raw });
    } else if (earlier === event.contentHash) {
      plan.duplicates += 1;
    } else {
      plan.rejections.push(rejection(raw, 'conflict', `event_id ${event.eventId} was already received with other content; billed once only.`));
    }
  }
  return plan;
}

/**
 * Joins the plans of several jobs into one flush, settling repeats across them the same way:
 * the first occurrence counts, a later one is a duplicate (same content) or a conflict.
 */
export function mergePlans(plans: readonly BatchPlan[]): BatchPlan {
  if (plans.length === 1) return plans[0];
  const merged: BatchPlan = { priced: [], rejections: [], duplicates: 0 };
  const seen = new Map<string, string>();
  for (const plan of plans) {
    merged.rejections.push(...plan.rejections);
    merged.duplicates += plan.duplicates;
    for (const candidate of plan.priced) {
      const { eventId, contentHash } = candidate.event;
      const earlier = seen.get(eventId);
      if (earlier === undefined) {
        seen.set(eventId, contentHash);
        merged.priced.push(candidate);
      } else if (earlier === contentHash) {
        merged.duplicates += 1;
      } else {
        merged.rejections.push(rejection(candidate.raw, 'conflict', `event_id ${eventId} was already received with other content; billed once only.`));
      }
    }
  }
  return merged;
}
