import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AUTHORIZE_HOLDS_V2 } from './1795000014000-ActiveHolds.js';

/**
 * The third authorize_holds is the second with three of its statements written anew (the rest,
 * word for word, stays the second's): each pair below is the old text and the new one.
 */
const CHANGES: [string, string][] = [
  [
    `        DELETE FROM active_holds x WHERE x.account_id = ANY(v_accounts)
          AND (x.expires_at <= v_now OR EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = x.hold_id));
`,
    `        -- Every lookup below probes a primary key per row (a scalar subquery, or a LATERAL with
        -- LIMIT 1, which the planner cannot turn into a hash of the whole table).
        DELETE FROM active_holds x WHERE x.account_id = ANY(v_accounts)
          AND (x.expires_at <= v_now OR (SELECT true FROM hold_ends e WHERE e.hold_id = x.hold_id));
`,
  ],
  [
    `          ), state AS (
            SELECT b.account_id, b.balance - coalesce((
                SELECT sum(a.amount) FROM active_holds a
                WHERE a.account_id = b.account_id AND a.expires_at > v_now
                  AND NOT EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = a.hold_id)), 0) AS available
            FROM account_balances b WHERE b.account_id = ANY(v_accounts)
          )
          SELECT q.*, s.available AS opening, s.account_id IS NOT NULL AS known, h.request_key AS existing_key
          FROM requests q LEFT JOIN state s USING (account_id) LEFT JOIN holds h ON h.hold_id = q.hold_id
          ORDER BY q.account_id, q.n
`,
    `          ), state AS (
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
`,
  ],
  [
    `          LEFT JOIN holds h ON h.hold_id = q.hold_id AND o.outcome IN ('held', 'existing', 'conflict')
          LEFT JOIN hold_ends e ON e.hold_id = h.hold_id;
`,
    `          LEFT JOIN LATERAL (SELECT h.* FROM holds h WHERE h.hold_id = q.hold_id AND o.outcome IN ('held', 'existing', 'conflict') LIMIT 1) h ON true
          LEFT JOIN LATERAL (SELECT e.* FROM hold_ends e WHERE e.hold_id = h.hold_id LIMIT 1) e ON true;
`,
  ],
];

const AUTHORIZE_HOLDS_V3 = CHANGES.reduce((text, [before, after]) => {
  if (text.split(before).length !== 2) throw new Error(`IndexProbedHolds: a statement it rewrites is not in the second authorize_holds once: ${before.trim().slice(0, 60)}`);
  return text.replace(before, () => after);
}, AUTHORIZE_HOLDS_V2);

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
