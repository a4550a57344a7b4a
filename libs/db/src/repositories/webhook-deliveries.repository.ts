import type { DataSource } from 'typeorm';

/** Only one dispatcher fans events out at a time, so deliveries are made in the order events were. */
const FAN_OUT_LOCK = 7_000_012;

export interface ClaimedStream {
  endpointId: string;
  accountId: string;
}

/** A pending delivery as the dispatcher sends it: the event, where, and how to sign it. */
export interface OutgoingDelivery {
  deliveryId: string;
  endpointId: string;
  accountId: string;
  eventId: string;
  type: string;
  data: unknown;
  eventAt: Date;
  url: string;
  secretSealed: string;
  previousSecretSealed: string | null;
  previousSecretExpiresAt: Date | null;
  failures: number;
  scheduleStartedAt: Date | null;
}

/** What one try came to. */
export interface AttemptResult {
  deliveryId: string;
  endpointId: string;
  accountId: string;
  attemptedAt: Date;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  outcome: 'delivered' | 'retry' | 'failed';
  /** retry: when. */
  nextAttemptAt: Date | null;
  /** The stream's run ends with this result: it is let go (else its lease is renewed). */
  release: boolean;
}

/**
 * The dispatcher's SQL (see apps/worker/src/webhooks): fan-out of the outbox into deliveries,
 * claiming streams (one endpoint x one account, sent in order, by one dispatcher at a time),
 * and recording tries. Called with the dispatcher's own DataSource, apart from the usage flush's.
 */
export class WebhookDeliveriesRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Turns up to `limit` events not fanned out yet, oldest first, into one delivery per endpoint
   * subscribed to the type (and created before the event), counts them into their streams and
   * marks the events. Null when another dispatcher holds the fan-out; else the events taken.
   */
  async fanOut(limit: number): Promise<number | null> {
    return this.db.transaction(async (tx) => {
      const [{ locked }] = await tx.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [FAN_OUT_LOCK]);
      if (!locked) return null;
      const rows: { events: number }[] = await tx.query(
        `WITH events AS (
           SELECT seq, type, account_id, created_at FROM webhook_events WHERE NOT fanned_out ORDER BY seq LIMIT $1
         ), marked AS (
           UPDATE webhook_events w SET fanned_out = true FROM events e WHERE w.seq = e.seq
         ), targets AS (
           SELECT en.endpoint_id, e.account_id, e.seq FROM events e JOIN webhook_endpoints en ON e.type = ANY (en.events) AND en.created_at <= e.created_at
         ), streams AS (
           INSERT INTO webhook_streams AS s (endpoint_id, account_id, pending, next_attempt_at)
           SELECT endpoint_id, account_id, count(*), now() FROM targets GROUP BY 1, 2 ORDER BY 1, 2
           ON CONFLICT (endpoint_id, account_id) DO UPDATE SET pending = s.pending + excluded.pending, next_attempt_at = coalesce(s.next_attempt_at, excluded.next_attempt_at)
         ), deliveries AS (
           INSERT INTO webhook_deliveries (endpoint_id, account_id, event_seq) SELECT endpoint_id, account_id, seq FROM targets ORDER BY seq, endpoint_id
         )
         SELECT count(*)::int AS events FROM events`,
        [limit],
      );
      return rows[0].events;
    });
  }

  /**
   * Takes up to `max` streams that are due and free, at most `free(endpoint)` of each endpoint
   * (its free sending slots in this process), earliest due first, and leases them to `owner`.
   * Two dispatchers never hold one stream: the UPDATE checks the lease again on the row it locks.
   */
  async claim(owner: string, leaseMs: number, perEndpoint: number, used: Map<string, number>, max: number): Promise<ClaimedStream[]> {
    const rows: { endpoint_id: string; account_id: string }[] = await this.db.query(
      `WITH candidates AS (
         SELECT endpoint_id, account_id FROM (
           SELECT s.endpoint_id, s.account_id, s.next_attempt_at, row_number() OVER (PARTITION BY s.endpoint_id ORDER BY s.next_attempt_at, s.account_id) AS rank
           FROM webhook_streams s
           WHERE s.next_attempt_at <= now() AND (s.lease_until IS NULL OR s.lease_until < now())
         ) c
         LEFT JOIN unnest($4::text[], $5::int[]) AS u(endpoint_id, used) USING (endpoint_id)
         WHERE c.rank <= $3 - coalesce(u.used, 0)
         ORDER BY c.next_attempt_at LIMIT $6
       ), leased AS (
         UPDATE webhook_streams s SET lease_until = now() + $2 * interval '1 millisecond', lease_owner = $1
         FROM candidates c
         WHERE s.endpoint_id = c.endpoint_id AND s.account_id = c.account_id
           AND s.next_attempt_at <= now() AND (s.lease_until IS NULL OR s.lease_until < now())
         RETURNING s.endpoint_id, s.account_id
       )
       SELECT * FROM leased`,
      [owner, leaseMs, perEndpoint, [...used.keys()], [...used.values()], max],
    );
    return rows.map((r) => ({ endpointId: r.endpoint_id, accountId: r.account_id }));
  }

  /** The first `perStream` pending deliveries of each stream, in order. */
  async pendingOf(streams: ClaimedStream[], perStream: number): Promise<OutgoingDelivery[]> {
    const rows: {
      delivery_id: string;
      endpoint_id: string;
      account_id: string;
      event_id: string;
      type: string;
      data: unknown;
      event_at: Date;
      url: string;
      secret_sealed: string;
      previous_secret_sealed: string | null;
      previous_secret_expires_at: Date | null;
      failures: number;
      schedule_started_at: Date | null;
    }[] = await this.db.query(
      `SELECT d.delivery_id::text, d.endpoint_id, d.account_id, e.event_id, e.type, e.data, e.created_at AS event_at, en.url, en.secret_sealed,
         en.previous_secret_sealed, en.previous_secret_expires_at, d.failures, d.schedule_started_at
       FROM unnest($1::text[], $2::text[]) AS s(endpoint_id, account_id)
       CROSS JOIN LATERAL (
         SELECT * FROM webhook_deliveries d WHERE d.endpoint_id = s.endpoint_id AND d.account_id = s.account_id AND d.status = 'pending'
         ORDER BY d.delivery_id LIMIT $3
       ) d
       JOIN webhook_events e ON e.seq = d.event_seq
       JOIN webhook_endpoints en ON en.endpoint_id = d.endpoint_id
       ORDER BY d.endpoint_id, d.account_id, d.delivery_id`,
      [streams.map((s) => s.endpointId), streams.map((s) => s.accountId), perStream],
    );
    return rows.map((r) => ({
      deliveryId: r.delivery_id,
      endpointId: r.endpoint_id,
      accountId: r.account_id,
      eventId: r.event_id,
      type: r.type,
      data: r.data,
      eventAt: r.event_at,
      url: r.url,
      secretSealed: r.secret_sealed,
      previousSecretSealed: r.previous_secret_sealed,
      previousSecretExpiresAt: r.previous_secret_expires_at,
      failures: r.failures,
      scheduleStartedAt: r.schedule_started_at,
    }));
  }

  /**
   * Records tries, in one statement: each attempt in the log, each delivery's new state (only if
   * it is still pending: a stream taken over after a lapsed lease is not counted twice), and each
   * stream's count of pending deliveries, its lease (renewed, or let go with the run's last result)
   * and when its next delivery is due (the retry's time, now, or never when none is pending).
   */
  async record(results: AttemptResult[], leaseMs: number): Promise<void> {
    await this.db.query(
      `WITH r AS (
         SELECT * FROM json_to_recordset($1::json) AS r(delivery_id bigint, endpoint_id text, account_id text, attempted_at timestamptz, duration_ms int,
           status_code int, error text, outcome text, next_attempt_at timestamptz, release boolean)
       ), attempts AS (
         INSERT INTO webhook_attempts (delivery_id, attempted_at, duration_ms, status_code, error)
         SELECT r.delivery_id, r.attempted_at, r.duration_ms, r.status_code, r.error FROM r JOIN webhook_deliveries d USING (delivery_id) ORDER BY r.attempted_at
       ), updated AS (
         UPDATE webhook_deliveries d SET
           attempts = d.attempts + 1,
           status = CASE r.outcome WHEN 'retry' THEN 'pending' ELSE r.outcome END,
           failures = CASE WHEN r.outcome = 'delivered' THEN d.failures ELSE d.failures + 1 END,
           schedule_started_at = coalesce(d.schedule_started_at, r.attempted_at),
           next_attempt_at = r.next_attempt_at,
           delivered_at = CASE WHEN r.outcome = 'delivered' THEN now() ELSE d.delivered_at END
         FROM r WHERE d.delivery_id = r.delivery_id AND d.status = 'pending'
         RETURNING d.endpoint_id, d.account_id, d.status
       ), done AS (
         SELECT endpoint_id, account_id, count(*) FILTER (WHERE status <> 'pending')::int AS done FROM updated GROUP BY 1, 2
       ), runs AS (
         SELECT endpoint_id, account_id, bool_or(release) AS release, max(next_attempt_at) FILTER (WHERE outcome = 'retry') AS retry_at FROM r GROUP BY 1, 2
       )
       UPDATE webhook_streams s SET
         pending = s.pending - coalesce(done.done, 0),
         next_attempt_at = CASE WHEN s.pending - coalesce(done.done, 0) <= 0 THEN NULL WHEN runs.release THEN coalesce(runs.retry_at, now()) ELSE s.next_attempt_at END,
         lease_until = CASE WHEN runs.release THEN NULL ELSE now() + $2 * interval '1 millisecond' END,
         lease_owner = CASE WHEN runs.release THEN NULL ELSE s.lease_owner END
       FROM runs LEFT JOIN done USING (endpoint_id, account_id)
       WHERE s.endpoint_id = runs.endpoint_id AND s.account_id = runs.account_id`,
      [
        JSON.stringify(
          results.map((r) => ({
            delivery_id: r.deliveryId,
            endpoint_id: r.endpointId,
            account_id: r.accountId,
            attempted_at: r.attemptedAt.toISOString(),
            duration_ms: Math.round(r.durationMs),
            status_code: r.statusCode,
            error: r.error,
            outcome: r.outcome,
            next_attempt_at: r.nextAttemptAt?.toISOString() ?? null,
            release: r.release,
          })),
        ),
        leaseMs,
      ],
    );
  }

  /** Lets go of streams, their pending count and due time made right from their deliveries. */
  async recount(streams: ClaimedStream[]): Promise<void> {
    await this.db.query(
      `UPDATE webhook_streams s SET lease_until = NULL, lease_owner = NULL, pending = c.pending, next_attempt_at = CASE WHEN c.pending > 0 THEN now() END
       FROM (
         SELECT t.endpoint_id, t.account_id,
           (SELECT count(*)::int FROM webhook_deliveries d WHERE d.endpoint_id = t.endpoint_id AND d.account_id = t.account_id AND d.status = 'pending') AS pending
         FROM unnest($1::text[], $2::text[]) AS t(endpoint_id, account_id)
       ) c
       WHERE s.endpoint_id = c.endpoint_id AND s.account_id = c.account_id`,
      [streams.map((s) => s.endpointId), streams.map((s) => s.accountId)],
    );
  }
}
