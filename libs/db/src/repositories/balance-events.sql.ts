/**
 * Balance alerts and auto-recharge in SQL, written into the outbox (webhook_events) by the very
 * statement that moves the balance: the usage flush (RECORD_PRICED), a credit, a grant's end.
 * Set-based, from each account's balance before and after the move, read off the UPDATE of
 * account_balances that the statement makes anyway; the thresholds and the open recharge request
 * are columns of that row, so nothing else is read. With no threshold set and no crossing of
 * zero, the statement inserts no row, and its only extra work is a few comparisons per account.
 *
 * Self-contained pieces, to splice into a statement whose balance UPDATE is aliased `b`:
 * - RECHARGE_REQUEST_SET: (the flush only, whose FROM item `d` has the debit `total` and its
 *   `ledger_entry_id`) opens a recharge request when the balance ends below the recharge
 *   threshold and no request is open (none, or the open one is 24 hours old);
 * - FLUSH_BALANCE_RETURNING: what the flush's UPDATE returns beside account_id and balance;
 * - balanceEvents(source): a CTE inserting the events of a CTE `source` that returned
 *   (account_id, balance, balance_before, low_balance_threshold, ledger_entry_id,
 *   recharge_entry_id, recharge_threshold, recharge_target, recharge_requested_at).
 *
 * Events (each once per crossing, since a crossing needs the balance on both sides of the line):
 * balance.low: from at or above low_balance_threshold to below it; balance.depleted: from above
 * zero to zero or below; balance.recovered: from zero or below to above zero;
 * recharge.requested: this statement opened the account's recharge request.
 */

/** The recharge request is due: below the threshold after the debit, and none open. */
const RECHARGE_DUE = `b.recharge_threshold IS NOT NULL AND b.balance - d.total < b.recharge_threshold
    AND (b.recharge_entry_id IS NULL OR b.recharge_requested_at <= now() - interval '24 hours')`;

export const RECHARGE_REQUEST_SET = `,
    recharge_entry_id = CASE WHEN ${RECHARGE_DUE} THEN d.ledger_entry_id ELSE b.recharge_entry_id END,
    recharge_requested_at = CASE WHEN ${RECHARGE_DUE} THEN now() ELSE b.recharge_requested_at END`;

/** RETURNING sees the row after the update: balance_before is the balance before the debit. */
export const FLUSH_BALANCE_RETURNING = `, b.balance + d.total AS balance_before, b.low_balance_threshold, d.ledger_entry_id,
    b.recharge_entry_id, b.recharge_threshold, b.recharge_target, b.recharge_requested_at`;

/** An instant as JSON carries it (as Date.prototype.toISOString writes it). */
export const isoSql = (column: string) => `to_char((${column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
/** A numeric as the API writes money: no trailing zeros (formatMoney). */
export const moneySql = (column: string) => `trim_scale(${column})::text`;

export const balanceEvents = (source: string, name = 'balance_events') => `, ${name} AS (
  INSERT INTO webhook_events (type, account_id, data)
  SELECT e.type, a.account_id, e.data
  FROM ${source} a
  CROSS JOIN LATERAL (VALUES
    (1, 'balance.low', a.balance < a.low_balance_threshold AND a.balance_before >= a.low_balance_threshold,
      jsonb_build_object('account_id', a.account_id, 'balance', ${moneySql('a.balance')}, 'low_balance_threshold', ${moneySql('a.low_balance_threshold')})),
    (2, 'balance.depleted', a.balance <= 0 AND a.balance_before > 0,
      jsonb_build_object('account_id', a.account_id, 'balance', ${moneySql('a.balance')})),
    (3, 'balance.recovered', a.balance > 0 AND a.balance_before <= 0,
      jsonb_build_object('account_id', a.account_id, 'balance', ${moneySql('a.balance')})),
    (4, 'recharge.requested', a.recharge_entry_id IS NOT NULL AND a.recharge_entry_id = a.ledger_entry_id,
      jsonb_build_object('account_id', a.account_id, 'amount', ${moneySql('a.recharge_target - a.balance')},
        'idempotency_key', 'rch_' || a.recharge_entry_id, 'balance', ${moneySql('a.balance')},
        'threshold', ${moneySql('a.recharge_threshold')}, 'target_balance', ${moneySql('a.recharge_target')},
        'expires_at', ${isoSql("a.recharge_requested_at + interval '24 hours'")}))
  ) e(n, type, due, data)
  -- Only the accounts with a crossing reach the VALUES above (this filter is on \`a\` alone).
  WHERE ((a.balance <= 0) <> (a.balance_before <= 0)
      OR (a.balance < a.low_balance_threshold AND a.balance_before >= a.low_balance_threshold)
      OR (a.recharge_entry_id IS NOT NULL AND a.recharge_entry_id = a.ledger_entry_id))
    AND e.due
  ORDER BY a.account_id, e.n
)`;
