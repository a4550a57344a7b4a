import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { rejection, type Candidate, type PricedEvent, type Rejection } from '@app/billing';
import { FLUSH_BALANCE_RETURNING, RECHARGE_REQUEST_SET, balanceEvents } from './balance-events.sql.js';

export interface RecordOutcome {
  priced: number;
  rejected: number;
  /** Newly recorded rejections per reason code. */
  rejectedByReason: Record<string, number>;
  duplicates: number;
  /** event ids that this call priced (committed once the transaction commits). */
  pricedIds: string[];
}

/**
 * $1: the events as one JSON array of { event_id, account_id, model_id, endpoint, occurred_at,
 * rate_card_version, input_tokens, cached_input_tokens, output_tokens, cache_reported,
 * cost (a decimal string), content_hash, usage, metadata, hold_id? } (see pricedEventsJson); $2: the
 * ledger reference. One JSON text is much cheaper for the driver to send than fourteen escaped arrays.
 *
 * Claims each event id in usage_event_ids (idempotent: an id seen before claims nothing), inserts
 * the claimed events into their month's partition, debits each account once, appends one ledger
 * entry per account and upserts the hourly and monthly rollups: one statement, set-based. Entry
 * ids are drawn first so each event row names the debit that billed it. usage and metadata go in
 * as json, the text as received: nothing parses them into jsonb.
 * The balance move writes its alerts and recharge request into the outbox in the same statement
 * (balance-events.sql.ts).
 */
const recordPriced = (settleHolds: boolean) => `
WITH input AS (
  SELECT * FROM json_to_recordset($1::json)
    AS t(event_id text, account_id text, model_id text, endpoint text, occurred_at timestamptz, rate_card_version int,
         input_tokens int, cached_input_tokens int, output_tokens int, cache_reported bool, cost numeric, content_hash text,
         usage json, metadata json, hold_id text)
), claimed AS (
  INSERT INTO usage_event_ids (event_id, occurred_at, content_hash)
  SELECT event_id, occurred_at, content_hash FROM input ORDER BY event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING event_id
), entries AS (
  SELECT account_id, nextval('ledger_entries_entry_id_seq'::regclass) AS entry_id
  FROM (SELECT DISTINCT account_id FROM input) accounts
), inserted AS (
  INSERT INTO usage_events (event_id, account_id, model_id, endpoint, occurred_at, rate_card_version, input_tokens,
    cached_input_tokens, output_tokens, cache_reported, cost, usage, metadata, hold_id, ledger_entry_id)
  SELECT i.event_id, i.account_id, i.model_id, i.endpoint, i.occurred_at, i.rate_card_version, i.input_tokens,
    i.cached_input_tokens, i.output_tokens, i.cache_reported, i.cost, i.usage, i.metadata, i.hold_id, e.entry_id
  FROM input i JOIN claimed USING (event_id) JOIN entries e USING (account_id)
  RETURNING event_id, account_id, model_id, occurred_at, rate_card_version, input_tokens, cached_input_tokens,
    output_tokens, cost, ledger_entry_id, hold_id
), debits AS (
  SELECT account_id, ledger_entry_id, sum(cost) AS total, count(*)::int AS events, max(occurred_at) AS last_usage_at
  FROM inserted GROUP BY account_id, ledger_entry_id
), balances AS (
  UPDATE account_balances b
  SET balance = b.balance - d.total, last_usage_at = greatest(b.last_usage_at, d.last_usage_at), updated_at = now()${RECHARGE_REQUEST_SET}
  FROM debits d WHERE b.account_id = d.account_id
  RETURNING b.account_id, b.balance${FLUSH_BALANCE_RETURNING}
)${balanceEvents('balances')}, ledger AS (
  INSERT INTO ledger_entries (entry_id, account_id, kind, amount, balance_after, reference, event_count)
  OVERRIDING SYSTEM VALUE
  SELECT d.ledger_entry_id, d.account_id, 'usage', -d.total, b.balance, $2, d.events
  FROM debits d JOIN balances b USING (account_id)
  ORDER BY d.ledger_entry_id
), rollups AS (
  INSERT INTO usage_rollups AS r (account_id, hour, model_id, rate_card_version, requests, input_tokens,
    cached_input_tokens, output_tokens, cost)
  SELECT account_id, date_trunc('hour', occurred_at, 'UTC'), model_id, rate_card_version, count(*),
    sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(cost)
  FROM inserted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (account_id, hour, model_id, rate_card_version) DO UPDATE SET
    requests = r.requests + excluded.requests,
    input_tokens = r.input_tokens + excluded.input_tokens,
    cached_input_tokens = r.cached_input_tokens + excluded.cached_input_tokens,
    output_tokens = r.output_tokens + excluded.output_tokens,
    cost = r.cost + excluded.cost
), monthly AS (
  INSERT INTO usage_rollups_monthly AS m (account_id, month, model_id, rate_card_version, requests, input_tokens,
    cached_input_tokens, output_tokens, cost)
  SELECT account_id, (date_trunc('month', occurred_at, 'UTC') AT TIME ZONE 'UTC')::date, model_id, rate_card_version, count(*),
    sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(cost)
  FROM inserted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (account_id, month, model_id, rate_card_version) DO UPDATE SET
    requests = m.requests + excluded.requests,
    input_tokens = m.input_tokens + excluded.input_tokens,
    cached_input_tokens = m.cached_input_tokens + excluded.cached_input_tokens,
    output_tokens = m.output_tokens + excluded.output_tokens,
    cost = m.cost + excluded.cost
)${settleHolds ? SETTLE_HOLDS : ''}
SELECT event_id FROM inserted`;

/**
 * Settles the holds the events name, when they are this account's and still active: the hold
 * ends as settled at the event's cost, in the flush that debits it. A hold that is unknown,
 * another account's, expired, released or already settled is left as it is; the event is billed
 * all the same. Only in flushes where some event carries a hold_id.
 */
const SETTLE_HOLDS = `, settled AS (
  INSERT INTO hold_ends (hold_id, kind, settled_amount, event_id)
  SELECT DISTINCT ON (h.hold_id) h.hold_id, 'settled', i.cost, i.event_id
  FROM inserted i JOIN holds h ON h.hold_id = i.hold_id AND h.account_id = i.account_id
  WHERE i.hold_id IS NOT NULL AND h.expires_at > clock_timestamp()
  ORDER BY h.hold_id, i.event_id
  ON CONFLICT (hold_id) DO NOTHING
)`;

export const RECORD_PRICED = recordPriced(false);
export const RECORD_PRICED_SETTLING = recordPriced(true);

const RECORD_REJECTIONS = `
INSERT INTO rejected_events (event_id, account_id, reason, detail, payload, payload_hash, source)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[])
ON CONFLICT (payload_hash, reason) DO NOTHING
RETURNING reason`;

@Injectable()
export class UsageRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Records one flush in one transaction: priced events of existing accounts are inserted and
   * debited; events of unknown accounts, and ids already stored with other content, are rejected;
   * ids already stored with the same content are duplicates. Balance rows are locked in account
   * order first, so concurrent flushes never deadlock on them.
   */
  record(priced: Candidate[], rejections: Rejection[], reference: string, source: 'queue' | 'http'): Promise<RecordOutcome> {
    return this.db.transaction('READ COMMITTED', async (tx) => {
      const rejected = [...rejections];
      const accountIds = [...new Set(priced.map((c) => c.event.accountId))].sort();
      const known = new Set<string>(
        accountIds.length
          ? (
              await tx.query('SELECT account_id FROM account_balances WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR UPDATE', [accountIds])
            ).map((r: { account_id: string }) => r.account_id)
          : [],
      );
      const billable: Candidate[] = [];
      for (const candidate of priced) {
        if (known.has(candidate.event.accountId)) billable.push(candidate);
        else rejected.push(rejection(candidate.raw, 'unknown_account', `No account ${candidate.event.accountId}.`));
      }

      const pricedIds = billable.length ? await this.insertPriced(tx, billable.map((c) => c.event), reference) : [];
      let duplicates = 0;
      if (pricedIds.length < billable.length) {
        const inserted = new Set(pricedIds);
        const repeats = billable.filter((c) => !inserted.has(c.event.eventId));
        const stored = new Map<string, string>(
          (
            await tx.query('SELECT event_id, content_hash FROM usage_event_ids WHERE event_id = ANY($1::text[])', [repeats.map((c) => c.event.eventId)])
          ).map((r: { event_id: string; content_hash: string }) => [r.event_id, r.content_hash]),
        );
        for (const { event, raw } of repeats) {
          if (stored.get(event.eventId) === event.contentHash) duplicates += 1;
          else rejected.push(rejection(raw, 'conflict', `event_id ${event.eventId} was already billed with other content; billed once only.`));
        }
      }

      const reasons = rejected.length ? await this.insertRejections(tx, rejected, source) : [];
      // A rejection recorded before (same payload, same reason) is a redelivery: a duplicate.
      duplicates += rejected.length - reasons.length;
      const rejectedByReason: Record<string, number> = {};
      for (const reason of reasons) rejectedByReason[reason] = (rejectedByReason[reason] ?? 0) + 1;
      return { priced: pricedIds.length, rejected: reasons.length, rejectedByReason, duplicates, pricedIds };
    });
  }

  private async insertPriced(tx: EntityManager, events: PricedEvent[], reference: string): Promise<string[]> {
    const rows: { event_id: string }[] = await tx.query(events.some((e) => e.holdId) ? RECORD_PRICED_SETTLING : RECORD_PRICED, [pricedEventsJson(events), reference]);
    return rows.map((r) => r.event_id);
  }

  /** Returns the reason of each rejection that was new (not a redelivery). */
  private async insertRejections(tx: EntityManager, rejections: Rejection[], source: 'queue' | 'http'): Promise<string[]> {
    const rows: { reason: string }[] = await tx.query(RECORD_REJECTIONS, [
      rejections.map((r) => r.eventId),
      rejections.map((r) => r.accountId),
      rejections.map((r) => r.reason),
      rejections.map((r) => r.detail),
      rejections.map((r) => JSON.stringify(r.payload)),
      rejections.map((r) => r.payloadHash),
      rejections.map(() => source),
    ]);
    return rows.map((r) => r.reason);
  }

  /**
   * Creates the month partitions of usage_events that are missing, from this month to
   * `monthsAhead` months ahead (moving into each any event the default partition held for it).
   * Returns how many it created.
   */
  async ensurePartitions(monthsAhead: number): Promise<number> {
    const [{ made }] = await this.db.query(
      `SELECT ensure_usage_event_partitions(date_trunc('month', now())::date, (date_trunc('month', now()) + make_interval(months => $1 + 1))::date) AS made`,
      [monthsAhead],
    );
    return made;
  }

  /** Records rejections outside a flush (HTTP ingest, malformed jobs); returns how many were new. */
  recordRejections(rejections: Rejection[], source: 'queue' | 'http'): Promise<string[]> {
    return rejections.length ? this.db.transaction((tx) => this.insertRejections(tx, rejections, source)) : Promise.resolve([]);
  }
}

/**
 * RECORD_PRICED's $1, written as text directly (no object per event to build and stringify): ids
 * and names through JSON.stringify (escaping), usage and metadata as the canonical JSON validation
 * already wrote, costs as decimal strings, so nothing passes through a float.
 */
export function pricedEventsJson(events: PricedEvent[]): string {
  let out = '[';
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    out +=
      `${i ? ',' : ''}{"event_id":${JSON.stringify(e.eventId)},"account_id":${JSON.stringify(e.accountId)},"model_id":${JSON.stringify(e.model)}` +
      `,"endpoint":${JSON.stringify(e.endpoint)},"occurred_at":"${e.occurredAt.toISOString()}","rate_card_version":${e.rateCardVersion}` +
      `,"input_tokens":${e.tokens.input},"cached_input_tokens":${e.tokens.cachedInput},"output_tokens":${e.tokens.output}` +
      `,"cache_reported":${e.cacheReported},"cost":"${e.cost.toFixed()}","content_hash":"${e.contentHash}"` +
      `,"usage":${e.usageJson},"metadata":${e.metadataJson ?? 'null'}${e.holdId ? `,"hold_id":${JSON.stringify(e.holdId)}` : ''}}`;
  }
  return `${out}]`;
}
