import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AUTHORIZE_HOLDS_V1 } from './1795000011000-SpendHolds.js';
import { HOLD_DECLINED_WRAPPER } from './1795000012001-HoldDeclinedEvents.js';

/** The second authorize_holds (IndexProbedHolds restores it on the way down). */
export const AUTHORIZE_HOLDS_V2 = `
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
        DELETE FROM active_holds x WHERE x.account_id = ANY(v_accounts)
          AND (x.expires_at <= v_now OR EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = x.hold_id));

        FOR r IN
          WITH requests AS (
            SELECT * FROM jsonb_to_recordset(p_requests) AS x(n int, account_id text, hold_id text, amount numeric, ttl int, request_key text)
          ), state AS (
            SELECT b.account_id, b.balance - coalesce((
                SELECT sum(a.amount) FROM active_holds a
                WHERE a.account_id = b.account_id AND a.expires_at > v_now
                  AND NOT EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = a.hold_id)), 0) AS available
            FROM account_balances b WHERE b.account_id = ANY(v_accounts)
          )
          SELECT q.*, s.available AS opening, s.account_id IS NOT NULL AS known, h.request_key AS existing_key
          FROM requests q LEFT JOIN state s USING (account_id) LEFT JOIN holds h ON h.hold_id = q.hold_id
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
          LEFT JOIN holds h ON h.hold_id = q.hold_id AND o.outcome IN ('held', 'existing', 'conflict')
          LEFT JOIN hold_ends e ON e.hold_id = h.hold_id;
      END $$;
`;

/**
 * Authorizations that stay fast on a hot account, and decide from one snapshot.
 *
 * active_holds: every hold that may still count (hold_id, account, amount, expires_at), written
 * with the hold. It is an index, not the truth: a hold counts while it has no hold_ends row and
 * its expires_at is ahead, and every read still says so. What it saves is the scan: an ended hold
 * stays in `holds` until it would have expired (a gateway settles its holds within seconds and
 * they live 300 s), so Σ over `holds` grew with rate × ttl; authorize_holds deletes the rows of
 * ended and expired holds of the accounts it decides for, under their locks, so what it sums is
 * what is in flight. The flush and the release route write hold_ends only, as before. Reconciliation
 * (holds_active_set) checks that every hold that counts has its row, with its values.
 *
 * authorize_holds, set-based: the batch's account locks first (in the order of their keys, so two
 * batches never wait on each other in a circle); then one statement reads each account's balance
 * and Σ of its active holds, and the holds already under the ids asked for, in one snapshot taken
 * after the locks (the first version read the balance and the holds in two statements, two
 * snapshots, so a flush that committed a settlement and its debit between them made the account
 * look richer by the settled hold); the decisions are made in memory in request order; one
 * statement inserts every new hold, and one the hold.declined outbox rows of the requests declined
 * (the wrapper of HoldDeclinedEvents did that around the first version; it goes, with that version).
 * No statement per request.
 */
export class ActiveHolds1795000014000 implements MigrationInterface {
  name = 'ActiveHolds1795000014000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE active_holds (
        hold_id    text PRIMARY KEY REFERENCES holds ON DELETE CASCADE,
        account_id text NOT NULL,
        amount     numeric(38,18) NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX active_holds_account ON active_holds (account_id);
      INSERT INTO active_holds (hold_id, account_id, amount, expires_at)
      SELECT h.hold_id, h.account_id, h.amount, h.expires_at FROM holds h
      WHERE h.expires_at > clock_timestamp() AND NOT EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = h.hold_id);

      DROP FUNCTION authorize_holds(jsonb);
      DROP FUNCTION authorize_holds_decide(jsonb);
      ${AUTHORIZE_HOLDS_V2}
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION authorize_holds(jsonb);
      DROP TABLE active_holds;
      ${AUTHORIZE_HOLDS_V1}
      ${HOLD_DECLINED_WRAPPER}
    `);
  }
}
