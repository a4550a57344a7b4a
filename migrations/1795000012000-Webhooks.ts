import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhooks, alerts and auto-recharge.
 *
 * - Billing settings and the open recharge request are columns of account_balances, the row every
 *   balance move updates already, so a crossing is computed in that same UPDATE (see
 *   libs/db/src/repositories/balance-events.sql.ts) and nothing else is read or written per flush.
 *   Nullable columns without a default: adding them rewrites nothing.
 * - webhook_events is the outbox: one row per event, inserted in the transaction of its cause.
 *   A row trigger NOTIFYs the dispatcher (per inserted row, so a statement that inserts none, the
 *   usual flush, notifies nothing and pays nothing at commit).
 * - The dispatcher fans each event out to the endpoints subscribed to its type
 *   (webhook_deliveries) and sends them stream by stream: a stream is one endpoint and one account,
 *   sent in order, one delivery at a time; webhook_streams holds its state (how many deliveries
 *   are pending, when the next one is due, who holds it). webhook_attempts logs every try.
 * - grant_expiry_notices remembers the grants credits.expiring was sent for (or that had nothing
 *   left when they came within 7 days of expiry), so each is told once.
 */
export class Webhooks1795000012000 implements MigrationInterface {
  name = 'Webhooks1795000012000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE account_balances
        ADD COLUMN low_balance_threshold numeric(38,18) CHECK (low_balance_threshold >= 0),
        ADD COLUMN recharge_threshold    numeric(38,18) CHECK (recharge_threshold >= 0),
        ADD COLUMN recharge_target       numeric(38,18),
        -- The open recharge request: the usage debit that made it (its idempotency key is rch_<id>) and when.
        ADD COLUMN recharge_entry_id     bigint,
        ADD COLUMN recharge_requested_at timestamptz,
        ADD COLUMN settings_updated_at   timestamptz,
        ADD CONSTRAINT account_balances_recharge CHECK (
          (recharge_threshold IS NULL) = (recharge_target IS NULL) AND (recharge_target IS NULL OR recharge_target > recharge_threshold)
          AND (recharge_entry_id IS NULL) = (recharge_requested_at IS NULL)
        );

      CREATE TABLE webhook_endpoints (
        endpoint_id                text PRIMARY KEY,
        url                        text NOT NULL,
        events                     text[] NOT NULL CHECK (cardinality(events) > 0),
        description                text,
        -- AES-256-GCM under SECRETS_KEY, the endpoint id as additional data: never the secret itself.
        secret_sealed              text NOT NULL,
        previous_secret_sealed     text,
        previous_secret_expires_at timestamptz,
        created_at                 timestamptz NOT NULL DEFAULT now(),
        secret_rotated_at          timestamptz
      );

      CREATE TABLE webhook_events (
        seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id   text NOT NULL UNIQUE DEFAULT 'evt_' || replace(gen_random_uuid()::text, '-', ''),
        type       text NOT NULL,
        account_id text NOT NULL,
        data       jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        fanned_out boolean NOT NULL DEFAULT false
      );
      CREATE INDEX webhook_events_unsent ON webhook_events (seq) WHERE NOT fanned_out;
      CREATE INDEX webhook_events_account ON webhook_events (account_id, seq);

      CREATE FUNCTION webhook_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        -- Notifications with the same channel and payload in one transaction are delivered once.
        PERFORM pg_notify('webhook_events', '');
        RETURN NULL;
      END $$;
      CREATE TRIGGER webhook_events_notify AFTER INSERT ON webhook_events FOR EACH ROW EXECUTE FUNCTION webhook_events_notify();

      CREATE TABLE webhook_streams (
        endpoint_id     text NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
        account_id      text NOT NULL,
        pending         int NOT NULL DEFAULT 0 CHECK (pending >= 0),
        -- When its first pending delivery is due; null while nothing is pending.
        next_attempt_at timestamptz,
        -- A dispatcher sending it holds it until then (renewed with each delivery it records).
        lease_until     timestamptz,
        lease_owner     text,
        PRIMARY KEY (endpoint_id, account_id)
      );
      CREATE INDEX webhook_streams_due ON webhook_streams (next_attempt_at) WHERE next_attempt_at IS NOT NULL;

      CREATE TABLE webhook_deliveries (
        delivery_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        endpoint_id      text NOT NULL REFERENCES webhook_endpoints ON DELETE CASCADE,
        account_id       text NOT NULL,
        event_seq        bigint NOT NULL REFERENCES webhook_events,
        status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         int NOT NULL DEFAULT 0,
        -- Failed tries since the schedule started (the first try, or the last manual retry), and when it started.
        failures         int NOT NULL DEFAULT 0,
        schedule_started_at timestamptz,
        next_attempt_at  timestamptz,
        created_at       timestamptz NOT NULL DEFAULT now(),
        delivered_at     timestamptz,
        UNIQUE (endpoint_id, event_seq)
      );
      CREATE INDEX webhook_deliveries_stream ON webhook_deliveries (endpoint_id, account_id, delivery_id) WHERE status = 'pending';

      CREATE TABLE webhook_attempts (
        attempt_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        delivery_id  bigint NOT NULL REFERENCES webhook_deliveries ON DELETE CASCADE,
        attempted_at timestamptz NOT NULL,
        duration_ms  int NOT NULL,
        status_code  int,
        error        text
      );
      CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt_id);

      CREATE TABLE grant_expiry_notices (
        grant_id    text PRIMARY KEY REFERENCES grants,
        noticed_at  timestamptz NOT NULL DEFAULT now()
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE grant_expiry_notices, webhook_attempts, webhook_deliveries, webhook_streams, webhook_events, webhook_endpoints;
      DROP FUNCTION webhook_events_notify();
      ALTER TABLE account_balances
        DROP CONSTRAINT account_balances_recharge,
        DROP COLUMN low_balance_threshold, DROP COLUMN recharge_threshold, DROP COLUMN recharge_target,
        DROP COLUMN recharge_entry_id, DROP COLUMN recharge_requested_at, DROP COLUMN settings_updated_at;
    `);
  }
}
