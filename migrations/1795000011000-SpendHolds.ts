import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The first authorize_holds (1795000014000-ActiveHolds replaces it; its down() puts this back). */
export const AUTHORIZE_HOLDS_V1 = `
      CREATE FUNCTION authorize_holds(p_requests jsonb)
      RETURNS TABLE (n int, outcome text, hold_id text, account_id text, amount numeric, created_at timestamptz, expires_at timestamptz, available numeric)
      LANGUAGE plpgsql AS $$
      DECLARE
        r record;
        h holds%ROWTYPE;
        v_account text;
        v_known boolean;
        v_balance numeric;
        v_available numeric;
        v_now timestamptz;
      BEGIN
        FOR r IN
          SELECT * FROM jsonb_to_recordset(p_requests) AS x(n int, account_id text, hold_id text, amount numeric, ttl int, request_key text)
          ORDER BY x.account_id, x.n
        LOOP
          IF v_account IS DISTINCT FROM r.account_id THEN
            v_account := r.account_id;
            PERFORM pg_advisory_xact_lock(hashtextextended('hold:' || r.account_id, 0));
            SELECT b.balance INTO v_balance FROM account_balances b WHERE b.account_id = r.account_id;
            v_known := FOUND;
            v_now := clock_timestamp();
            SELECT v_balance - coalesce(sum(x.amount), 0) INTO v_available FROM holds x
            WHERE x.account_id = r.account_id AND x.expires_at > v_now
              AND NOT EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = x.hold_id);
          END IF;
          IF NOT v_known THEN
            RETURN QUERY SELECT r.n, 'unknown_account'::text, r.hold_id, r.account_id, r.amount, NULL::timestamptz, NULL::timestamptz, NULL::numeric;
            CONTINUE;
          END IF;
          SELECT * INTO h FROM holds x WHERE x.hold_id = r.hold_id;
          IF NOT FOUND AND v_available >= r.amount THEN
            v_now := clock_timestamp();
            INSERT INTO holds AS x (hold_id, account_id, amount, request_key, created_at, expires_at)
            VALUES (r.hold_id, r.account_id, r.amount, r.request_key, v_now, v_now + make_interval(secs => r.ttl))
            ON CONFLICT DO NOTHING;
            IF FOUND THEN
              v_available := v_available - r.amount;
              RETURN QUERY SELECT r.n, 'held'::text, r.hold_id, r.account_id, r.amount, v_now, v_now + make_interval(secs => r.ttl), v_available;
              CONTINUE;
            END IF;
            -- The same id was just taken for another account (it waited on another lock): answer that hold.
            SELECT * INTO h FROM holds x WHERE x.hold_id = r.hold_id;
          END IF;
          IF h.hold_id IS NOT NULL AND h.hold_id = r.hold_id THEN
            RETURN QUERY SELECT r.n, CASE WHEN h.request_key = r.request_key THEN 'existing' ELSE 'conflict' END, h.hold_id, h.account_id, h.amount, h.created_at, h.expires_at, v_available;
          ELSE
            RETURN QUERY SELECT r.n, 'declined'::text, r.hold_id, r.account_id, r.amount, NULL::timestamptz, NULL::timestamptz, v_available;
          END IF;
        END LOOP;
      END $$;
`;

/**
 * Spend holds. A hold is written once and never changed (like a pending transfer); what ends it
 * (settled by the event that carries its id, or released) is one more row in hold_ends. A hold
 * counts until its expires_at, exactly, by comparing with the clock: nothing has to run for a
 * hold to expire.
 *
 * authorize_holds() takes a batch of requests (any accounts) and, per account in account order,
 * takes a transaction-scoped advisory lock (not the balance row's lock, which the usage flush
 * holds for its whole transaction), then reads the balance and the active holds in a snapshot
 * taken after the lock (each statement of a plpgsql function takes its own), so every request
 * sees every hold committed before it, and holds only what fits in what is available.
 */
export class SpendHolds1795000011000 implements MigrationInterface {
  name = 'SpendHolds1795000011000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE holds (
        seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        hold_id     text PRIMARY KEY CHECK (length(hold_id) BETWEEN 1 AND 512),
        account_id  text NOT NULL REFERENCES accounts,
        amount      numeric(38,18) NOT NULL CHECK (amount > 0),
        request_key text NOT NULL,
        created_at  timestamptz NOT NULL,
        expires_at  timestamptz NOT NULL CHECK (expires_at > created_at)
      );
      CREATE INDEX holds_account_expiry ON holds (account_id, expires_at);
      CREATE INDEX holds_account_seq ON holds (account_id, seq DESC);
      CREATE TRIGGER holds_immutable BEFORE UPDATE ON holds FOR EACH ROW EXECUTE FUNCTION forbid_change();

      CREATE TABLE hold_ends (
        hold_id        text PRIMARY KEY REFERENCES holds ON DELETE CASCADE,
        kind           text NOT NULL CHECK (kind IN ('settled', 'released')),
        settled_amount numeric(38,18) CHECK ((kind = 'settled') = (settled_amount IS NOT NULL)),
        event_id       text,
        ended_at       timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE TRIGGER hold_ends_immutable BEFORE UPDATE ON hold_ends FOR EACH ROW EXECUTE FUNCTION forbid_change();

      ALTER TABLE usage_events ADD COLUMN hold_id text;

      ${AUTHORIZE_HOLDS_V1}
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION authorize_holds(jsonb);
      ALTER TABLE usage_events DROP COLUMN hold_id;
      DROP TABLE hold_ends, holds;
    `);
  }
}
