import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AUTHORIZE_HOLDS_V2 } from './1795000014000-ActiveHolds.js';

const AUTHORIZE_HOLDS_V3 = `
      CREATE FUNCTION authorize_holds(p_requests jsonb)
      RETURNS TABLE (n int, outcome text, available numeric, seq bigint, hold_id text, account_id text, amount numeric,
                     created_at timestamptz, expires_at timestamptz, end_kind text, settled_amount numeric, event_id text, ended_at timestamptz)
      LANGUAGE plpgsql AS $$
      DECLARE
        r record;
        v_accounts text[];
        v_key bigint;
        v_account text;
        v_available numeric;
        v_now timestamptz;
        -- Per request, in the order decided: its number, outcome and what was available after it.
        o_n int[] := '{}';
        o_outcome text[] := '{}';
        o_available numeric[] := '{}';
        -- The holds to write.
        w_id text[] := '{}';
        w_account text[] := '{}';
        w_amount numeric[] := '{}';
        w_ttl int[] := '{}';
        w_key text[] := '{}';
      BEGIN
        SELECT array_agg(DISTINCT x.account_id) INTO v_accounts FROM jsonb_to_recordset(p_requests) AS x(account_id text);
        -- One by one in key order (a loop, so the order is certain): two batches never wait on each other in a circle.
        FOR v_key IN SELECT DISTINCT hashtextextended('hold:' || a, 0) FROM unnest(v_accounts) a ORDER BY 1 LOOP
          PERFORM pg_advisory_xact_lock(v_key);
        END LOOP;

        -- From here on every statement's snapshot sees every hold committed under these locks before.
        v_now := clock_timestamp();
        -- Every lookup below probes a primary key per row (a scalar subquery, or a LATERAL with
        -- LIMIT 1, which the planner cannot turn into a hash of the whole table).
        DELETE FROM active_holds x WHERE x.account_id = ANY(v_accounts)
          AND (x.expires_at <= v_now OR (SELECT true FROM hold_ends e WHERE e.hold_id = x.hold_id));

        FOR r IN
          WITH requests AS (
            SELECT * FROM jsonb_to_recordset(p_requests) AS x(n int, account_id text, hold_id text, amount numeric, ttl int, request_key text)
          ), state AS (
            SELECT u.account_id, b.balance - coalesce((
                SELECT sum(a.amount) FROM active_holds a
                WHERE a.account_id = u.account_id AND a.expires_at > v_now
                  AND (SELECT true FROM hold_ends e WHERE e.hold_id = a.hold_id) IS NULL), 0) AS available
            FROM unnest(v_accounts) AS u(account_id)
            JOIN LATERAL (SELECT b.balance FROM account_balances b WHERE b.account_id = u.account_id LIMIT 1) b ON true
          )
          SELECT q.*, s.available AS opening, s.account_id IS NOT NULL AS known,
            (SELECT h.request_key FROM holds h WHERE h.hold_id = q.hold_id) AS existing_key
          FROM requests q LEFT JOIN state s USING (account_id)
          ORDER BY q.account_id, q.n
        LOOP
          IF v_account IS DISTINCT FROM r.account_id THEN
            v_account := r.account_id;
            v_available := r.opening;
          END IF;
          o_n := o_n || r.n;
          IF NOT r.known THEN
            o_outcome := o_outcome || 'unknown_account'::text;
            o_available := o_available || NULL::numeric;
            CONTINUE;
          END IF;
          IF r.existing_key IS NULL AND r.hold_id = ANY(w_id) THEN
            -- Asked twice in this batch: the second is answered as a repeat of the first.
            r.existing_key := w_key[array_position(w_id, r.hold_id)];
          END IF;
          IF r.existing_key IS NOT NULL THEN
            o_outcome := o_outcome || CASE WHEN r.existing_key = r.request_key THEN 'existing' ELSE 'conflict' END;
          ELSIF v_available >= r.amount THEN
            v_available := v_available - r.amount;
            o_outcome := o_outcome || 'held'::text;
            w_id := w_id || r.hold_id;
            w_account := w_account || r.account_id;
            w_amount := w_amount || r.amount;
            w_ttl := w_ttl || r.ttl;
            w_key := w_key || r.request_key;
          ELSE
            o_outcome := o_outcome || 'declined'::text;
          END IF;
          o_available := o_available || v_available;
        END LOOP;

        IF cardinality(w_id) > 0 THEN
          v_now := clock_timestamp();
          WITH written AS (
            INSERT INTO holds AS x (hold_id, account_id, amount, request_key, created_at, expires_at)
            SELECT w.id, w.account, w.amount, w.key, v_now, v_now + make_interval(secs => w.ttl)
            FROM unnest(w_id, w_account, w_amount, w_ttl, w_key) AS w(id, account, amount, ttl, key)
            ON CONFLICT DO NOTHING
            RETURNING x.hold_id, x.account_id, x.amount, x.expires_at
          )
          INSERT INTO active_holds SELECT * FROM written;
        END IF;

        -- Each 402 tells the account's webhook endpoints, in the same transaction as the decision.
        IF 'declined' = ANY(o_outcome) THEN
          INSERT INTO webhook_events (type, account_id, data)
          SELECT 'hold.declined', q.account_id, jsonb_build_object(
            'account_id', q.account_id, 'hold_id', q.hold_id,
            'requested', trim_scale(q.amount)::text, 'available', trim_scale(o.available)::text)
          FROM unnest(o_n, o_outcome, o_available) AS o(n, outcome, available)
          JOIN jsonb_to_recordset(p_requests) AS q(n int, account_id text, hold_id text, amount numeric) USING (n)
          WHERE o.outcome = 'declined' ORDER BY q.account_id, q.n;
        END IF;

        -- Each answer with its hold as stored now. A hold the insert skipped was taken meanwhile
        -- under the same id for another account (whose lock this batch does not hold): a conflict.
        RETURN QUERY
          SELECT o.n, CASE WHEN o.outcome IN ('held', 'existing') AND (h.account_id IS DISTINCT FROM q.account_id OR h.request_key IS DISTINCT FROM q.request_key)
                        THEN 'conflict' ELSE o.outcome END,
            o.available, h.seq, q.hold_id, coalesce(h.account_id, q.account_id), coalesce(h.amount, q.amount),
            h.created_at, h.expires_at, e.kind, e.settled_amount, e.event_id, e.ended_at
          FROM unnest(o_n, o_outcome, o_available) AS o(n, outcome, available)
          JOIN jsonb_to_recordset(p_requests) AS q(n int, account_id text, hold_id text, amount numeric, request_key text) USING (n)
          LEFT JOIN LATERAL (SELECT h.* FROM holds h WHERE h.hold_id = q.hold_id AND o.outcome IN ('held', 'existing', 'conflict') LIMIT 1) h ON true
          LEFT JOIN LATERAL (SELECT e.* FROM hold_ends e WHERE e.hold_id = h.hold_id LIMIT 1) e ON true;
      END $$;
`;

/**
 * authorize_holds with plans that do not depend on table statistics. The second version joined
 * the requests (jsonb_to_recordset, which the planner always guesses at 100 rows) to holds and
 * hold_ends, and tested ended holds with EXISTS beside an OR. Planned while those tables were
 * small (a new database, or statistics not refreshed since: autovacuum off or behind), the
 * cached plan hashed the whole of holds and hold_ends on every call, and kept doing it as they
 * grew: 5 ms a call at 8,000 holds, 26 ms at 48,000, measured on one connection. Here every lookup
 * probes a primary key per row, whatever the statistics say; the decisions are the same.
 */
export class IndexProbedHolds1795000016000 implements MigrationInterface {
  name = 'IndexProbedHolds1795000016000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION authorize_holds(jsonb);
      ${AUTHORIZE_HOLDS_V3}
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION authorize_holds(jsonb);
      ${AUTHORIZE_HOLDS_V2}
    `);
  }
}
