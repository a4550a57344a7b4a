import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface EndpointRow {
  endpoint_id: string;
  url: string;
  events: string[];
  description: string | null;
  secret_sealed: string;
  previous_secret_sealed: string | null;
  previous_secret_expires_at: Date | null;
  created_at: Date;
  secret_rotated_at: Date | null;
}

export interface AttemptRow {
  attempted_at: string;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
}

export interface DeliveryRow {
  delivery_id: string;
  endpoint_id: string;
  account_id: string;
  event_id: string;
  type: string;
  status: 'pending' | 'delivered' | 'failed';
  next_attempt_at: Date | null;
  created_at: Date;
  delivered_at: Date | null;
  attempts: AttemptRow[];
}

const ENDPOINT_COLUMNS = `endpoint_id, url, events, description, secret_sealed, previous_secret_sealed, previous_secret_expires_at, created_at, secret_rotated_at`;

const DELIVERY_SELECT = `SELECT d.delivery_id::text, d.endpoint_id, d.account_id, e.event_id, e.type, d.status, d.next_attempt_at, d.created_at, d.delivered_at,
    coalesce((SELECT json_agg(json_build_object('attempted_at', a.attempted_at, 'duration_ms', a.duration_ms, 'status_code', a.status_code, 'error', a.error) ORDER BY a.attempt_id)
      FROM webhook_attempts a WHERE a.delivery_id = d.delivery_id), '[]') AS attempts
  FROM webhook_deliveries d JOIN webhook_events e ON e.seq = d.event_seq`;

/** Webhook endpoints as the API manages them, and their delivery log. */
@Injectable()
export class WebhookEndpointsRepository {
  constructor(private readonly db: DataSource) {}

  async create(input: { endpointId: string; url: string; events: string[]; description: string | null; secretSealed: string }): Promise<EndpointRow> {
    const rows: EndpointRow[] = await this.db.query(
      `INSERT INTO webhook_endpoints (endpoint_id, url, events, description, secret_sealed) VALUES ($1, $2, $3, $4, $5) RETURNING ${ENDPOINT_COLUMNS}`,
      [input.endpointId, input.url, input.events, input.description, input.secretSealed],
    );
    return rows[0];
  }

  async find(endpointId: string): Promise<EndpointRow | null> {
    const rows: EndpointRow[] = await this.db.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE endpoint_id = $1`, [endpointId]);
    return rows[0] ?? null;
  }

  /** Oldest first; `after` is the last endpoint id of the previous page. */
  async list(query: { after?: string; limit: number }): Promise<EndpointRow[]> {
    return this.db.query(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE $1::text IS NULL OR (created_at, endpoint_id) > (SELECT created_at, endpoint_id FROM webhook_endpoints WHERE endpoint_id = $1)
       ORDER BY created_at, endpoint_id LIMIT $2`,
      [query.after ?? null, query.limit],
    );
  }

  /** Deletes the endpoint with its deliveries and log; false when there was none. */
  async delete(endpointId: string): Promise<boolean> {
    // Inside WITH: TypeORM answers a bare DELETE or UPDATE with [rows, count].
    const rows: unknown[] = await this.db.query('WITH deleted AS (DELETE FROM webhook_endpoints WHERE endpoint_id = $1 RETURNING 1) SELECT * FROM deleted', [endpointId]);
    return rows.length > 0;
  }

  /**
   * A new secret; the one it replaces keeps signing beside it (a second signature in the header)
   * for `previousForSeconds`, so deliveries in flight and receivers not yet switched still verify.
   */
  async rotate(endpointId: string, secretSealed: string, previousForSeconds: number): Promise<EndpointRow | null> {
    const rows: EndpointRow[] = await this.db.query(
      `WITH rotated AS (UPDATE webhook_endpoints SET
         previous_secret_sealed = CASE WHEN $3 > 0 THEN secret_sealed END,
         previous_secret_expires_at = CASE WHEN $3 > 0 THEN now() + $3 * interval '1 second' END,
         secret_sealed = $2, secret_rotated_at = now()
       WHERE endpoint_id = $1 RETURNING ${ENDPOINT_COLUMNS})
       SELECT * FROM rotated`,
      [endpointId, secretSealed, previousForSeconds],
    );
    return rows[0] ?? null;
  }

  /** The endpoint's deliveries, newest first, each with its attempts; `before` is a delivery id. */
  async deliveries(endpointId: string, query: { status?: string; before?: string; limit: number }): Promise<DeliveryRow[]> {
    const params: unknown[] = [endpointId];
    const where = ['d.endpoint_id = $1'];
    if (query.status) where.push(`d.status = $${params.push(query.status)}`);
    if (query.before) where.push(`d.delivery_id < $${params.push(query.before)}`);
    return this.db.query(`${DELIVERY_SELECT} WHERE ${where.join(' AND ')} ORDER BY d.delivery_id DESC LIMIT $${params.push(query.limit)}`, params);
  }

  async delivery(endpointId: string, deliveryId: string): Promise<DeliveryRow | null> {
    const rows: DeliveryRow[] = await this.db.query(`${DELIVERY_SELECT} WHERE d.endpoint_id = $1 AND d.delivery_id = $2`, [endpointId, deliveryId]);
    return rows[0] ?? null;
  }

  /**
   * Sends a delivery again now, whatever its state, on a fresh retry schedule: a pending one is
   * brought forward, a delivered or failed one is pending again (its stream then sends it before
   * the ones after it, so it arrives out of order). False when the endpoint has no such delivery.
   */
  async retry(endpointId: string, deliveryId: string): Promise<boolean> {
    const rows: unknown[] = await this.db.query(
      `WITH target AS (
         SELECT delivery_id, account_id, status FROM webhook_deliveries WHERE endpoint_id = $1 AND delivery_id = $2 FOR UPDATE
       ), again AS (
         UPDATE webhook_deliveries d SET status = 'pending', failures = 0, schedule_started_at = NULL, next_attempt_at = now()
         FROM target t WHERE d.delivery_id = t.delivery_id
       ), stream AS (
         UPDATE webhook_streams s SET pending = s.pending + CASE WHEN t.status = 'pending' THEN 0 ELSE 1 END, next_attempt_at = now()
         FROM target t WHERE s.endpoint_id = $1 AND s.account_id = t.account_id
       )
       SELECT 1 FROM target`,
      [endpointId, deliveryId],
    );
    return rows.length > 0;
  }
}
