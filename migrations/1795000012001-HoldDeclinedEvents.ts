import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Exported so that a later migration's down() can put it back. */
export const HOLD_DECLINED_WRAPPER = `
      ALTER FUNCTION authorize_holds(jsonb) RENAME TO authorize_holds_decide;
      CREATE FUNCTION authorize_holds(p_requests jsonb)
      RETURNS TABLE (n int, outcome text, hold_id text, account_id text, amount numeric, created_at timestamptz, expires_at timestamptz, available numeric)
      LANGUAGE sql AS $$
        WITH decided AS (SELECT * FROM authorize_holds_decide(p_requests)),
        declined AS (
          INSERT INTO webhook_events (type, account_id, data)
          SELECT 'hold.declined', d.account_id, jsonb_build_object(
            'account_id', d.account_id, 'hold_id', d.hold_id,
            'requested', trim_scale(d.amount)::text, 'available', trim_scale(d.available)::text)
          FROM decided d WHERE d.outcome = 'declined' ORDER BY d.account_id, d.n
        )
        SELECT * FROM decided
      $$;
`;

/**
 * hold.declined: authorize_holds() decides every authorization in SQL; this puts the outbox row of
 * each decline in the same call, so the event commits with the 402 decision, and only then. The
 * deciding function is kept as it is (renamed authorize_holds_decide) and authorize_holds becomes
 * a wrapper that returns its rows and inserts one event per declined request.
 */
export class HoldDeclinedEvents1795000012001 implements MigrationInterface {
  name = 'HoldDeclinedEvents1795000012001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(HOLD_DECLINED_WRAPPER);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP FUNCTION authorize_holds(jsonb);
      ALTER FUNCTION authorize_holds_decide(jsonb) RENAME TO authorize_holds;
    `);
  }
}
