import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { BillingException, BillingExceptionCode, REASONS_THAT_CAN_PASS } from '@app/billing';
import { CreditLiabilityService } from './credit-liability.service.js';
import { frozenLiabilityCheck, grantChecks } from './grant-reconciliation.js';
import { GrantsRepository } from './repositories/grants.repository.js';

export interface ReconciliationCheck {
  name: string;
  description: string;
  ok: boolean;
  expected: string;
  actual: string;
}

export interface Discrepancy {
  check: string;
  /** What is off: an account, a ledger entry, an event, a rollup, an invoice. */
  subject: string;
  id: string;
  expected: string;
  actual: string;
}

export interface ReconciliationReport {
  ok: boolean;
  from: string | null;
  to: string | null;
  checks: ReconciliationCheck[];
  discrepancies: Discrepancy[];
  /** True when more discrepancies exist than are listed. */
  truncated: boolean;
}

export const MAX_DISCREPANCIES = 1000;
const HOUR_MS = 3_600_000;

interface CheckSpec {
  name: string;
  description: string;
  /** One row with the aggregate expected and actual values (text). */
  totals: string;
  /** The rows that are off: subject, id, expected, actual (text). */
  offenders: string;
}

/**
 * A rejection that is not a contradiction of a priced event: a conflict names a priced id by
 * design, and a rejection for a reason that can pass is normal when the same id was priced at the
 * same time or later (received_at is the start of each writing transaction, on the server's clock).
 */
const EXPECTED_REJECTION = `r.reason = 'conflict' OR (r.reason IN (${REASONS_THAT_CAN_PASS.map((reason) => `'${reason}'`).join(', ')}) AND e.received_at >= r.received_at)`;

/** Restricts a column to [from, to) with the report's parameters $1 and $2 (either may be null). */
const inRange = (column: string) => `($1::timestamptz IS NULL OR ${column} >= $1) AND ($2::timestamptz IS NULL OR ${column} < $2)`;

/** Per live invoice: its opening, and the credits before its month less what live invoices of earlier months bill. */
const OPENINGS = `WITH chain AS (
    SELECT account_id, period, number, opening_balance, -usage_total AS moved FROM invoices WHERE status <> 'void'
    UNION ALL
    SELECT account_id, (date_trunc('month', created_at, 'UTC') AT TIME ZONE 'UTC')::date, NULL, NULL, sum(amount)
    FROM ledger_entries WHERE kind <> 'usage' GROUP BY 1, 2
  ), openings AS (
    SELECT number, period, opening_balance,
      coalesce(sum(moved) OVER (PARTITION BY account_id ORDER BY period GROUPS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS expected
    FROM chain
  )`;

/** Usage keys whose tokens on live invoices exceed the monthly rollups'. */
const OVERBILLED = `WITH billed AS (
    SELECT i.account_id, l.usage_period AS month, l.model_id, l.rate_card_version, l.token_class, sum(l.tokens) AS tokens,
      string_agg(DISTINCT i.number, ' ' ORDER BY i.number) AS invoices
    FROM invoice_lines l JOIN invoices i USING (invoice_id)
    WHERE i.status <> 'void' AND ${inRange('l.usage_period')} GROUP BY 1, 2, 3, 4, 5
  ), used AS (
    SELECT r.account_id, r.month, r.model_id, r.rate_card_version, t.token_class, t.tokens
    FROM usage_rollups_monthly r
    CROSS JOIN LATERAL (VALUES ('input', r.input_tokens), ('cached_input', r.cached_input_tokens), ('output', r.output_tokens)) t(token_class, tokens)
    WHERE ${inRange('r.month')}
  ), overbilled AS (
    SELECT concat_ws(' ', b.account_id, to_char(b.month, 'YYYY-MM'), b.model_id, 'v' || b.rate_card_version, b.token_class) AS id,
      'at most ' || coalesce(u.tokens, 0) || ' tokens (used)' AS expected, b.tokens || ' tokens on ' || b.invoices AS actual
    FROM billed b LEFT JOIN used u USING (account_id, month, model_id, rate_card_version, token_class)
    WHERE b.tokens > coalesce(u.tokens, 0)
  )`;

/** Per live invoice: what it recorded as priced when built, what the live invoices up to it bill, and the usage up to it now. */
const COVERAGE = `WITH chain AS (
    SELECT account_id, period, number, usage_seen, usage_total AS billed, 0 AS used FROM invoices WHERE status <> 'void'
    UNION ALL
    SELECT account_id, month, NULL, NULL, 0, sum(cost) FROM usage_rollups_monthly GROUP BY 1, 2
  ), coverage AS (
    SELECT number, period, usage_seen,
      sum(billed) OVER (PARTITION BY account_id ORDER BY period) AS billed, sum(used) OVER (PARTITION BY account_id ORDER BY period) AS used
    FROM chain
  )`;
const UNCOVERED = `number IS NOT NULL AND usage_seen IS NOT NULL AND (billed <> usage_seen OR usage_seen > used) AND ${inRange('period')}`;

/**
 * Every hold end with what it should agree with: its hold, and for a settlement the event that
 * settled it (of the hold's account, naming the hold, priced while the hold counted: the hold was
 * written before the end and the flush began before the hold expired) at exactly its cost.
 */
const HOLD_ENDS = `WITH ends AS (
    SELECT e.hold_id, e.kind, e.settled_amount, e.event_id, e.ended_at, h.hold_id IS NOT NULL AS has_hold,
      u.event_id IS NOT NULL AS has_event, u.cost, u.hold_id AS event_hold_id, u.account_id AS event_account_id, h.account_id,
      h.created_at < e.ended_at AND u.received_at < h.expires_at AS while_active
    FROM hold_ends e LEFT JOIN holds h USING (hold_id) LEFT JOIN usage_events u ON u.event_id = e.event_id
  ), off AS (
    SELECT hold_id,
      CASE WHEN kind = 'settled' THEN 'settled by an event of ' || coalesce(account_id, '?') || ' naming it, priced while it counted, at ' || coalesce(trim_scale(cost)::text, 'its cost')
        ELSE 'released, naming no event' END AS expected,
      CASE WHEN NOT has_hold THEN 'no such hold'
        WHEN kind = 'released' THEN 'released naming event ' || event_id
        WHEN NOT has_event THEN 'settled by ' || coalesce(event_id, 'no event') || ', which is not priced'
        WHEN event_hold_id IS DISTINCT FROM hold_id THEN 'settled by ' || event_id || ', which names ' || coalesce(event_hold_id, 'no hold')
        WHEN event_account_id <> account_id THEN 'settled by ' || event_id || ', an event of ' || event_account_id
        WHEN NOT while_active THEN 'settled by ' || event_id || ', priced when the hold did not count'
        ELSE 'settled at ' || trim_scale(settled_amount)::text END AS actual
    FROM ends
    WHERE NOT has_hold OR (kind = 'released' AND event_id IS NOT NULL)
      OR (kind = 'settled' AND (NOT has_event OR event_hold_id IS DISTINCT FROM hold_id OR event_account_id <> account_id OR NOT while_active OR settled_amount <> cost))
  )`;

/** A hold's account, amount and expiry, as text. */
const holdTerms = (alias: string) =>
  `${alias}.account_id || ' ' || trim_scale(${alias}.amount)::text || ' until ' || to_char(${alias}.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * The holds that count at one instant (taken once, after the snapshot: authorize_holds drops rows
 * only of holds that had ended or expired by then), against active_holds, what held is summed from.
 */
const ACTIVE_SET = `WITH t AS (SELECT clock_timestamp() AS at), counting AS (
    SELECT h.hold_id, h.account_id, h.amount, h.expires_at FROM holds h, t
    WHERE h.expires_at > t.at AND NOT EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = h.hold_id)
  ), listed AS (
    SELECT a.*, h.hold_id IS NOT NULL AS has_hold, (h.account_id, h.amount, h.expires_at) IS NOT DISTINCT FROM (a.account_id, a.amount, a.expires_at) AS same
    FROM active_holds a LEFT JOIN holds h USING (hold_id)
  ), off AS (
    SELECT c.hold_id, ${holdTerms('c')} AS expected, coalesce(${holdTerms('l')}, 'not in active_holds') AS actual
    FROM counting c LEFT JOIN listed l USING (hold_id) WHERE l.hold_id IS NULL OR NOT l.same
    UNION ALL
    SELECT hold_id, 'no row', 'in active_holds, ' || account_id || ' ' || trim_scale(amount)::text FROM listed WHERE NOT has_hold
  )`;

/**
 * Per hold, at the instant it was taken: Σ of its account's holds that counted then, itself
 * included, against Σ of the credits its account had been given before it. authorize_holds holds
 * a hold only when it fits in the balance it reads after the account's lock; that balance is at
 * most the credits committed by then, and every hold it counts is one this sweep counts or more
 * (a hold is written under the lock, its created_at after the lock was taken; ends and expiry are
 * counted from their clock, so the sweep counts a hold no longer than the authorization did). So a
 * hold over the line is one no authorization decided.
 */
const HOLDS_WITHIN = `WITH moves AS (
    SELECT account_id, created_at AS at, 1 AS kind, seq AS n, amount AS held, 0 AS credited, hold_id FROM holds
    UNION ALL
    SELECT h.account_id, least(h.expires_at, e.ended_at), 0, h.seq, -h.amount, 0, NULL FROM holds h LEFT JOIN hold_ends e USING (hold_id)
    UNION ALL
    SELECT account_id, created_at, 2, entry_id, 0, amount, NULL FROM ledger_entries WHERE amount > 0 AND account_id IN (SELECT account_id FROM holds)
  ), running AS (
    SELECT hold_id, sum(held) OVER w AS held, sum(credited) OVER w AS credited FROM moves
    WINDOW w AS (PARTITION BY account_id ORDER BY at, kind, n ROWS UNBOUNDED PRECEDING)
  ), over AS (SELECT hold_id, held, credited FROM running WHERE hold_id IS NOT NULL AND held > credited)`;

const CHECKS: CheckSpec[] = [
  {
    name: 'balances_match_ledger',
    description: 'every stored balance equals the sum of its account\'s ledger entries (all time)',
    totals: `SELECT coalesce((SELECT sum(amount) FROM ledger_entries), 0)::text AS expected, coalesce((SELECT sum(balance) FROM account_balances), 0)::text AS actual`,
    offenders: `SELECT 'account' AS subject, b.account_id AS id, coalesce(l.total, 0)::text AS expected, b.balance::text AS actual
      FROM account_balances b LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entries GROUP BY 1) l USING (account_id)
      WHERE b.balance <> coalesce(l.total, 0)`,
  },
  {
    name: 'ledger_running_balances',
    description: 'every ledger entry\'s balance_after equals the running sum of its account\'s entries (all time)',
    totals: `SELECT '0'::text AS expected, count(*)::text AS actual FROM (
        SELECT balance_after <> sum(amount) OVER (PARTITION BY account_id ORDER BY entry_id) AS off FROM ledger_entries) x WHERE off`,
    offenders: `SELECT 'ledger_entry' AS subject, entry_id::text AS id, running::text AS expected, balance_after::text AS actual FROM (
        SELECT entry_id, balance_after, sum(amount) OVER (PARTITION BY account_id ORDER BY entry_id) AS running FROM ledger_entries) x
      WHERE balance_after <> running`,
  },
  {
    name: 'usage_debits_match_events',
    description: 'usage debits in the ledger equal the priced events they debited, entry by entry (ledger entries created in the range)',
    totals: `SELECT coalesce((SELECT sum(e.cost) FROM usage_events e JOIN ledger_entries l ON l.entry_id = e.ledger_entry_id WHERE ${inRange('l.created_at')}), 0)::text AS expected,
        coalesce((SELECT -sum(amount) FROM ledger_entries WHERE kind = 'usage' AND ${inRange('created_at')}), 0)::text AS actual`,
    offenders: `WITH debits AS (SELECT entry_id, -amount AS debited, event_count FROM ledger_entries WHERE kind = 'usage' AND ${inRange('created_at')}),
        events AS (SELECT ledger_entry_id, sum(cost) AS cost, count(*) AS n FROM usage_events WHERE ledger_entry_id IN (SELECT entry_id FROM debits) GROUP BY 1)
      SELECT 'ledger_entry' AS subject, d.entry_id::text AS id, coalesce(e.cost, 0)::text || ' over ' || coalesce(e.n, 0) || ' events' AS expected,
        d.debited::text || ' over ' || d.event_count || ' events' AS actual
      FROM debits d LEFT JOIN events e ON e.ledger_entry_id = d.entry_id
      WHERE coalesce(e.cost, 0) <> d.debited OR coalesce(e.n, 0) <> d.event_count
      UNION ALL
      SELECT 'event', e.event_id, 'a usage debit', 'ledger entry ' || e.ledger_entry_id || ' is missing'
      FROM usage_events e LEFT JOIN ledger_entries l ON l.entry_id = e.ledger_entry_id
      WHERE ${inRange('e.received_at')} AND (l.entry_id IS NULL OR l.kind <> 'usage' OR l.account_id <> e.account_id)`,
  },
  {
    name: 'rollups_match_events',
    description: 'hourly rollups equal the sums over their events (hours in the range)',
    totals: `SELECT coalesce((SELECT sum(cost) FROM usage_events WHERE ${inRange('occurred_at')}), 0)::text AS expected,
        coalesce((SELECT sum(cost) FROM usage_rollups WHERE ${inRange('hour')}), 0)::text AS actual`,
    offenders: `WITH e AS (
        SELECT account_id, date_trunc('hour', occurred_at, 'UTC') AS hour, model_id, rate_card_version, count(*) AS requests,
          sum(input_tokens) AS input, sum(cached_input_tokens) AS cached, sum(output_tokens) AS output, sum(cost) AS cost
        FROM usage_events WHERE ${inRange('occurred_at')} GROUP BY 1, 2, 3, 4),
      r AS (SELECT * FROM usage_rollups WHERE ${inRange('hour')})
      SELECT 'rollup' AS subject, concat_ws(' ', coalesce(r.account_id, e.account_id), to_char(coalesce(r.hour, e.hour), 'YYYY-MM-DD"T"HH24"Z"'),
          coalesce(r.model_id, e.model_id), 'v' || coalesce(r.rate_card_version, e.rate_card_version)) AS id,
        concat_ws('/', coalesce(e.requests, 0), coalesce(e.input, 0), coalesce(e.cached, 0), coalesce(e.output, 0), coalesce(e.cost, 0)) AS expected,
        concat_ws('/', coalesce(r.requests, 0), coalesce(r.input_tokens, 0), coalesce(r.cached_input_tokens, 0), coalesce(r.output_tokens, 0), coalesce(r.cost, 0)) AS actual
      FROM e FULL JOIN r USING (account_id, hour, model_id, rate_card_version)
      WHERE r.requests IS DISTINCT FROM e.requests OR r.input_tokens IS DISTINCT FROM e.input OR r.cached_input_tokens IS DISTINCT FROM e.cached
        OR r.output_tokens IS DISTINCT FROM e.output OR r.cost IS DISTINCT FROM e.cost`,
  },
  {
    name: 'monthly_rollups_match_hourly',
    description: 'monthly rollups (what invoices read) equal the sums of their hourly rollups (months in the range)',
    totals: `SELECT coalesce((SELECT sum(cost) FROM usage_rollups WHERE ${inRange("date_trunc('month', hour, 'UTC')")}), 0)::text AS expected,
        coalesce((SELECT sum(cost) FROM usage_rollups_monthly WHERE ${inRange('month')}), 0)::text AS actual`,
    offenders: `WITH h AS (
        SELECT account_id, (date_trunc('month', hour, 'UTC') AT TIME ZONE 'UTC')::date AS month, model_id, rate_card_version, sum(requests) AS requests,
          sum(input_tokens) AS input, sum(cached_input_tokens) AS cached, sum(output_tokens) AS output, sum(cost) AS cost
        FROM usage_rollups WHERE ${inRange("date_trunc('month', hour, 'UTC')")} GROUP BY 1, 2, 3, 4),
      m AS (SELECT * FROM usage_rollups_monthly WHERE ${inRange('month')})
      SELECT 'rollup' AS subject, concat_ws(' ', coalesce(m.account_id, h.account_id), to_char(coalesce(m.month, h.month), 'YYYY-MM'),
          coalesce(m.model_id, h.model_id), 'v' || coalesce(m.rate_card_version, h.rate_card_version)) AS id,
        concat_ws('/', coalesce(h.requests, 0), coalesce(h.input, 0), coalesce(h.cached, 0), coalesce(h.output, 0), coalesce(h.cost, 0)) AS expected,
        concat_ws('/', coalesce(m.requests, 0), coalesce(m.input_tokens, 0), coalesce(m.cached_input_tokens, 0), coalesce(m.output_tokens, 0), coalesce(m.cost, 0)) AS actual
      FROM h FULL JOIN m USING (account_id, month, model_id, rate_card_version)
      WHERE m.requests IS DISTINCT FROM h.requests OR m.input_tokens IS DISTINCT FROM h.input OR m.cached_input_tokens IS DISTINCT FROM h.cached
        OR m.output_tokens IS DISTINCT FROM h.output OR m.cost IS DISTINCT FROM h.cost`,
  },
  {
    name: 'invoices_tie_out',
    description: 'each invoice\'s lines add up to its usage_total, usage_total_rounded is it rounded to cents, and opening + credits - usage - expired - voided = closing (invoice months in the range)',
    totals: `SELECT coalesce(sum(l.total), 0)::text AS expected, coalesce(sum(i.usage_total), 0)::text AS actual
      FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount) AS total FROM invoice_lines GROUP BY 1) l USING (invoice_id)
      WHERE ${inRange('i.period')}`,
    offenders: `SELECT 'invoice' AS subject, i.number AS id,
        coalesce(l.total, 0)::text || ' usage, closing ' || (i.opening_balance + i.credits_total - i.usage_total - i.expired_total - i.voided_total)::text AS expected,
        i.usage_total::text || ' usage (' || i.usage_total_rounded || ' rounded), closing ' || i.closing_balance::text AS actual
      FROM invoices i LEFT JOIN (SELECT invoice_id, sum(amount) AS total FROM invoice_lines GROUP BY 1) l USING (invoice_id)
      WHERE ${inRange('i.period')} AND (coalesce(l.total, 0) <> i.usage_total OR i.usage_total_rounded <> round(i.usage_total, 2)
        OR i.opening_balance + i.credits_total - i.usage_total - i.expired_total - i.voided_total <> i.closing_balance)`,
  },
  {
    name: 'invoices_chain',
    description: 'each live invoice opens where the account\'s previous live invoice closed (invoice months in the range)',
    totals: `SELECT '0'::text AS expected, count(*)::text AS actual FROM (
        SELECT period, opening_balance, lag(closing_balance) OVER (PARTITION BY account_id ORDER BY period) AS previous
        FROM invoices WHERE status <> 'void') x WHERE previous IS NOT NULL AND opening_balance <> previous AND ${inRange('period')}`,
    offenders: `SELECT 'invoice' AS subject, number AS id, previous::text AS expected, opening_balance::text AS actual FROM (
        SELECT number, period, opening_balance, lag(closing_balance) OVER (PARTITION BY account_id ORDER BY period) AS previous
        FROM invoices WHERE status <> 'void') x WHERE previous IS NOT NULL AND opening_balance <> previous AND ${inRange('period')}`,
  },
  {
    name: 'invoices_open_at_ledger',
    description: 'each live invoice opens at the account\'s ledger at the start of its month less the usage no earlier live invoice bills yet, that is: the credits made before its month less what the account\'s live invoices of earlier months bill (invoice months in the range)',
    totals: `${OPENINGS} SELECT '0'::text AS expected, count(*)::text AS actual FROM openings WHERE opening_balance <> expected AND ${inRange('period')}`,
    offenders: `${OPENINGS} SELECT 'invoice' AS subject, number AS id, trim_scale(expected)::text AS expected, trim_scale(opening_balance)::text AS actual
      FROM openings WHERE opening_balance <> expected AND ${inRange('period')}`,
  },
  {
    name: 'invoices_bill_usage_once',
    description: 'no usage is billed twice: per account, usage month, model, rate card version and token class, the live invoices never bill more tokens than were used (usage months in the range)',
    totals: `${OVERBILLED} SELECT '0'::text AS expected, count(*)::text AS actual FROM overbilled`,
    offenders: `${OVERBILLED} SELECT 'usage' AS subject, id, expected, actual FROM overbilled`,
  },
  {
    name: 'invoices_bill_all_usage',
    description: 'no usage is left off: an invoice built at the open end of its account\'s chain bills, with the account\'s live invoices before it, exactly the usage of its month and earlier that was priced when it was built, and that usage is still there (invoice months in the range)',
    totals: `${COVERAGE} SELECT '0'::text AS expected, count(*)::text AS actual FROM coverage WHERE ${UNCOVERED}`,
    offenders: `${COVERAGE} SELECT 'invoice' AS subject, number AS id,
        trim_scale(usage_seen)::text || ' (priced when it was built; ' || trim_scale(used)::text || ' now)' AS expected, trim_scale(billed)::text AS actual
      FROM coverage WHERE ${UNCOVERED}`,
  },
  {
    name: 'no_event_priced_and_rejected',
    description: `no event id is both priced and rejected (rejections received in the range; not counted: conflicts, which name a priced id by design, and rejections for a reason that can pass (${REASONS_THAT_CAN_PASS.join(', ')}) followed by the pricing of the same id)`,
    totals: `SELECT '0'::text AS expected, count(DISTINCT r.event_id)::text AS actual
      FROM rejected_events r JOIN usage_event_ids i USING (event_id) JOIN usage_events e ON e.event_id = i.event_id AND e.occurred_at = i.occurred_at WHERE NOT (${EXPECTED_REJECTION}) AND ${inRange('r.received_at')}`,
    offenders: `SELECT DISTINCT 'event' AS subject, r.event_id AS id, 'priced only' AS expected, 'priced, and rejected as ' || r.reason AS actual
      FROM rejected_events r JOIN usage_event_ids i USING (event_id) JOIN usage_events e ON e.event_id = i.event_id AND e.occurred_at = i.occurred_at WHERE NOT (${EXPECTED_REJECTION}) AND ${inRange('r.received_at')}`,
  },
  {
    name: 'hold_ends_match',
    description: 'every hold end has its hold; every settled hold was settled by a priced event of its account that names it, priced while the hold counted, at exactly that event\'s cost; a release names no event (all time)',
    totals: `SELECT coalesce((SELECT sum(u.cost) FROM hold_ends e JOIN usage_events u USING (event_id) WHERE e.kind = 'settled'), 0)::text AS expected,
        coalesce((SELECT sum(settled_amount) FROM hold_ends WHERE kind = 'settled'), 0)::text AS actual`,
    offenders: `${HOLD_ENDS} SELECT 'hold' AS subject, hold_id AS id, expected, actual FROM off`,
  },
  {
    name: 'holds_active_set',
    description: 'every hold that counts now (not ended, expires_at ahead) is in active_holds, the set held is summed from, with its account, amount and expiry, and every row there is a hold\'s',
    totals: `WITH t AS (SELECT clock_timestamp() AS at)
      SELECT coalesce((SELECT sum(h.amount) FROM holds h, t WHERE h.expires_at > t.at AND NOT EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = h.hold_id)), 0)::text AS expected,
        coalesce((SELECT sum(a.amount) FROM active_holds a, t WHERE a.expires_at > t.at AND NOT EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = a.hold_id)), 0)::text AS actual`,
    offenders: `${ACTIVE_SET} SELECT 'hold' AS subject, hold_id AS id, expected, actual FROM off`,
  },
  {
    name: 'holds_within_credits',
    description: 'no hold was taken while its account\'s holds that counted then, itself included, came to more than the account had been credited before it (all time)',
    totals: `${HOLDS_WITHIN} SELECT '0'::text AS expected, count(*)::text AS actual FROM over`,
    offenders: `${HOLDS_WITHIN} SELECT 'hold' AS subject, hold_id AS id, 'at most ' || trim_scale(credited)::text || ' (credited before it)' AS expected, trim_scale(held)::text || ' held with it' AS actual FROM over`,
  },
];

/**
 * Proves the books are whole: each check compares what the data says with what it should say,
 * and names every account, entry, event, rollup or invoice that is off. Runs in one
 * repeatable-read snapshot, so concurrent billing cannot make it report a false discrepancy.
 */
@Injectable()
export class ReconciliationService {
  constructor(
    private readonly db: DataSource,
    private readonly grants: GrantsRepository,
    private readonly liability: CreditLiabilityService,
  ) {}

  /** from/to must fall on whole UTC hours (rollups are hourly: a part of an hour cannot be compared with its events). */
  async run(range: { from?: Date; to?: Date } = {}): Promise<ReconciliationReport> {
    for (const [field, value] of [['from', range.from], ['to', range.to]] as const) {
      if (value && value.getTime() % HOUR_MS !== 0) {
        throw new BillingException(BillingExceptionCode.VALIDATION, `${field} must fall on a whole UTC hour: rollups are kept per hour.`, [
          { field, message: 'not on a whole hour' },
        ]);
      }
    }
    const params = [range.from ?? null, range.to ?? null];
    return this.db.transaction('REPEATABLE READ', async (tx: EntityManager) => {
      await tx.query('SET TRANSACTION READ ONLY');
      const checks: ReconciliationCheck[] = [];
      const discrepancies: Discrepancy[] = [];
      let truncated = false;
      for (const spec of CHECKS) {
        const uses = (sql: string) => (sql.includes('$1') ? params : []);
        const [totals] = await tx.query(spec.totals, uses(spec.totals));
        const offenders: Omit<Discrepancy, 'check'>[] = await tx.query(`${spec.offenders} LIMIT ${MAX_DISCREPANCIES + 1}`, uses(spec.offenders));
        const room = MAX_DISCREPANCIES - discrepancies.length;
        if (offenders.length > room) truncated = true;
        discrepancies.push(...offenders.slice(0, Math.max(room, 0)).map((o) => ({ check: spec.name, ...o })));
        checks.push({
          name: spec.name,
          description: spec.description,
          ok: offenders.length === 0 && numericEqual(totals.expected, totals.actual),
          expected: trimScale(totals.expected),
          actual: trimScale(totals.actual),
        });
      }
      const computed = await grantChecks(tx, this.grants);
      const frozen = await frozenLiabilityCheck(tx, this.liability);
      checks.push(...computed.checks, frozen.check);
      const more = [...computed.discrepancies, ...frozen.discrepancies];
      if (more.length > MAX_DISCREPANCIES - discrepancies.length) truncated = true;
      discrepancies.push(...more.slice(0, Math.max(MAX_DISCREPANCIES - discrepancies.length, 0)));
      return {
        ok: checks.every((c) => c.ok),
        from: range.from?.toISOString() ?? null,
        to: range.to?.toISOString() ?? null,
        checks,
        discrepancies,
        truncated,
      };
    });
  }
}

const trimScale = (value: string) => (value.includes('.') ? value.replace(/\.?0+$/, '') : value);
const numericEqual = (a: string, b: string) => trimScale(a) === trimScale(b);
