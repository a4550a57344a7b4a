import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface PricedEventRow {
  event_id: string;
  account_id: string;
  model_id: string;
  endpoint: string;
  occurred_at: Date;
  rate_card_version: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cache_reported: boolean;
  cost: string;
  ledger_entry_id: string;
  hold_id: string | null;
  received_at: Date;
}

export interface RejectedEventRow {
  rejection_id: string;
  event_id: string | null;
  account_id: string | null;
  reason: string;
  detail: string;
  payload: unknown;
  source: string;
  received_at: Date;
}

export interface UsageSeriesRow {
  period_start: Date;
  model: string;
  requests: string;
  input_tokens: string;
  cached_input_tokens: string;
  output_tokens: string;
  cost: string;
}

export type Granularity = 'hour' | 'day' | 'month';

@Injectable()
export class UsageReadsRepository {
  constructor(private readonly db: DataSource) {}

  /** By its id: usage_event_ids gives its instant, so only its month's partition is read. */
  async pricedEvent(eventId: string): Promise<PricedEventRow | null> {
    const [id]: { occurred_at: Date }[] = await this.db.query('SELECT occurred_at FROM usage_event_ids WHERE event_id = $1', [eventId]);
    if (!id) return null;
    const rows = await this.db.query(
      `SELECT event_id, account_id, model_id, endpoint, occurred_at, rate_card_version, input_tokens, cached_input_tokens,
         output_tokens, cache_reported, cost, ledger_entry_id, hold_id, received_at
       FROM usage_events WHERE occurred_at = $2 AND event_id = $1`,
      [eventId, id.occurred_at],
    );
    return rows[0] ?? null;
  }

  /** The latest rejections recorded under an event id. */
  async rejectionsOf(eventId: string, limit = 10): Promise<RejectedEventRow[]> {
    return this.db.query(
      `SELECT r.rejection_id, r.event_id, r.account_id, r.reason, r.detail, r.payload, r.source, r.received_at
       FROM rejected_events r WHERE r.event_id = $1 ORDER BY r.rejection_id DESC LIMIT $2`,
      [eventId, limit],
    );
  }

  async rejected(query: { from?: Date; to?: Date; reason?: string; before?: string; limit: number }): Promise<RejectedEventRow[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    if (query.from) where.push(`r.received_at >= $${params.push(query.from)}`);
    if (query.to) where.push(`r.received_at < $${params.push(query.to)}`);
    if (query.reason) where.push(`r.reason = $${params.push(query.reason)}`);
    if (query.before) where.push(`r.rejection_id < $${params.push(query.before)}`);
    return this.db.query(
      `SELECT r.rejection_id, r.event_id, r.account_id, r.reason, r.detail, r.payload, r.source, r.received_at
       FROM rejected_events r ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY r.rejection_id DESC LIMIT $${params.push(query.limit)}`,
      params,
    );
  }

  /** Usage per period and model from the hourly rollups; sums are exact (numeric, bigint). */
  series(accountId: string, from: Date, to: Date, granularity: Granularity): Promise<UsageSeriesRow[]> {
    return this.db.query(
      `SELECT date_trunc($4, hour, 'UTC') AS period_start, model_id AS model,
         sum(requests)::text AS requests, sum(input_tokens)::text AS input_tokens,
         sum(cached_input_tokens)::text AS cached_input_tokens, sum(output_tokens)::text AS output_tokens,
         sum(cost)::text AS cost
       FROM usage_rollups
       WHERE account_id = $1 AND hour >= $2 AND hour < $3
       GROUP BY 1, 2 ORDER BY 1, 2`,
      [accountId, from, to, granularity],
    );
  }
}
