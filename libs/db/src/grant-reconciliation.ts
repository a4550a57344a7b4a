import type { EntityManager } from 'typeorm';
import { type Allocation, LIABILITY_FIGURES, type LiabilityFigures, Money, type StructuralEntry, parsePeriod } from '@app/billing';
import type { CreditLiabilityService } from './credit-liability.service.js';
import { foldLedger } from './grants.service.js';
import type { AccountLedger, GrantsRepository } from './repositories/grants.repository.js';
import type { Discrepancy, ReconciliationCheck } from './reconciliation.service.js';

/**
 * The grant checks of reconciliation (all time). They fold every account's grants again, but
 * from balances recomputed here as running sums of the ledger's amounts, not from the stored
 * balance_after or balance (balances_match_ledger and ledger_running_balances check those):
 * - grants_fold_to_balances: Σ remaining − unfunded = the account's ledger balance (Σ amounts);
 * - grant_endings_match_remaining: every expiry or void entry removed exactly what its grant had left
 *   (and a grant that ended with no entry had nothing left);
 * - grants_never_negative: no grant holds less than nothing.
 */
export async function grantChecks(tx: EntityManager, grants: GrantsRepository): Promise<{ checks: ReconciliationCheck[]; discrepancies: Discrepancy[] }> {
  const ledgers = await grants.ledgersOf(tx, null);
  const recomputed: { account_id: string; entry_id: string; running: string }[] = await tx.query(
    `WITH running AS (
       SELECT account_id, entry_id, kind, sum(amount) OVER (PARTITION BY account_id ORDER BY entry_id) AS running FROM ledger_entries
     )
     SELECT account_id, entry_id::text, running::text FROM running
     WHERE kind <> 'usage' OR entry_id IN (SELECT end_after_entry_id FROM grants WHERE end_after_entry_id IS NOT NULL)`,
  );
  const totals: { account_id: string; total: string }[] = await tx.query('SELECT account_id, sum(amount)::text AS total FROM ledger_entries GROUP BY 1');
  const runningAt = new Map(recomputed.map((r) => [`${r.account_id}|${r.entry_id}`, new Money(r.running)]));
  const totalOf = new Map(totals.map((t) => [t.account_id, new Money(t.total)]));

  const fold = { expected: new Money(0), actual: new Money(0), off: [] as Discrepancy[] };
  const endings = { expected: new Money(0), actual: new Money(0), off: [] as Discrepancy[] };
  const negative: Discrepancy[] = [];
  for (const ledger of [...ledgers.values()].sort((a, b) => a.accountId.localeCompare(b.accountId))) {
    const total = totalOf.get(ledger.accountId) ?? new Money(0);
    const independent = withRecomputedBalances(ledger, runningAt, total);
    const result = foldLedger(independent, (allocation: Allocation) => {
      if (allocation.type !== 'end') return;
      endings.expected = endings.expected.add(allocation.left);
      endings.actual = endings.actual.add(allocation.removed);
      if (!allocation.left.eq(allocation.removed)) {
        endings.off.push({ check: 'grant_endings_match_remaining', subject: 'grant', id: allocation.grantId, expected: allocation.left.toFixed(), actual: allocation.removed.toFixed() });
      }
    });
    const folded = result.book.balance();
    fold.expected = fold.expected.add(total);
    fold.actual = fold.actual.add(folded);
    if (!folded.eq(total) || result.anomalies.length) {
      fold.off.push({
        check: 'grants_fold_to_balances',
        subject: 'account',
        id: ledger.accountId,
        expected: total.toFixed(),
        actual: `${folded.toFixed()}${result.anomalies.length ? ` (${result.anomalies.join('; ')})` : ''}`,
      });
    }
    for (const g of ledger.grants) {
      if (!result.book.isCreated(g.spec.grantId)) continue;
      const remaining = result.book.remaining(g.spec.grantId);
      if (remaining.isNegative()) negative.push({ check: 'grants_never_negative', subject: 'grant', id: g.spec.grantId, expected: '>= 0', actual: remaining.toFixed() });
    }
  }
  const check = (name: string, description: string, expected: string, actual: string, off: Discrepancy[]): ReconciliationCheck => ({
    name,
    description,
    ok: off.length === 0 && expected === actual,
    expected,
    actual,
  });
  return {
    checks: [
      check('grants_fold_to_balances', "every account's grants, folded over its ledger in burn order, give its ledger balance: Σ remaining − unfunded = Σ amounts (all time)", fold.expected.toFixed(), fold.actual.toFixed(), fold.off),
      check('grant_endings_match_remaining', 'every expiry and void entry removed exactly what its grant had left (all time)', endings.expected.toFixed(), endings.actual.toFixed(), endings.off),
      check('grants_never_negative', 'no grant holds less than nothing (all time)', '0', String(negative.length), negative),
    ],
    discrepancies: [...fold.off, ...endings.off, ...negative],
  };
}

/** The same ledger with every balance the fold reads replaced by a running sum of amounts. */
function withRecomputedBalances(ledger: AccountLedger, runningAt: Map<string, Money>, total: Money): AccountLedger {
  const at = (entryId: bigint) => runningAt.get(`${ledger.accountId}|${entryId}`);
  const entries: StructuralEntry[] = ledger.entries.map((e) => ({ ...e, balanceAfter: at(e.entryId) ?? e.balanceAfter }));
  return {
    ...ledger,
    balance: total,
    entries,
    grants: ledger.grants.map((g) =>
      g.ending && g.ending.entryId === null && g.ending.afterEntryId !== null ? { ...g, ending: { ...g.ending, balance: at(g.ending.afterEntryId) ?? g.ending.balance } } : g,
    ),
  };
}

/**
 * credit_liability_frozen_months: every frozen month's stored rows equal the month folded from
 * the ledger again (a closed month can never change; if it does, an entry was written into the past).
 */
export async function frozenLiabilityCheck(tx: EntityManager, liability: CreditLiabilityService): Promise<{ check: ReconciliationCheck; discrepancies: Discrepancy[] }> {
  const off: Discrepancy[] = [];
  let expected = new Money(0);
  let actual = new Money(0);
  for (const id of await liability.frozenMonths(tx)) {
    const period = parsePeriod(id)!;
    const [stored, again] = await Promise.all([liability.frozen(period, tx), liability.compute(tx, period)]);
    const storedRows = new Map(stored!.rows.map((r) => [r.accountId, r.figures]));
    const freshRows = new Map(again.rows.map((r) => [r.accountId, r.figures]));
    expected = expected.add(again.totals.closing);
    actual = actual.add(stored!.totals.closing);
    for (const accountId of new Set([...storedRows.keys(), ...freshRows.keys()])) {
      const a = storedRows.get(accountId);
      const b = freshRows.get(accountId);
      const text = (f: LiabilityFigures | undefined) => (f ? LIABILITY_FIGURES.map((k) => `${k} ${f[k].toFixed()}`).join(', ') : 'no row');
      if (text(a) !== text(b)) off.push({ check: 'credit_liability_frozen_months', subject: 'liability_row', id: `${id} ${accountId}`, expected: text(b), actual: text(a) });
    }
  }
  return {
    check: {
      name: 'credit_liability_frozen_months',
      description: "every frozen month's credit liability rows equal the month folded from the ledger again (all frozen months)",
      ok: off.length === 0 && expected.eq(actual),
      expected: expected.toFixed(),
      actual: actual.toFixed(),
    },
    discrepancies: off,
  };
}
