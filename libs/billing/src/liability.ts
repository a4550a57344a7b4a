import type { Allocation, GrantMovement, GrantSnapshot, GrantSpec } from './grants.js';
import { isPaidCredit } from './grants.js';
import { Money } from './money.js';

/**
 * The credit liability of one account over one month (what finance books as deferred revenue):
 * opening + granted_paid + granted_free − burned_paid − burned_free − expired_paid − expired_free − voided = closing,
 * exactly, where opening and closing are Σ remaining of the account's grants at the month's start
 * and end. Burns are what usage (and negative adjustments) drew from grants, including what a new
 * grant covered of earlier unfunded usage; `adjusted_*` says how much of the burn was negative
 * adjustments rather than usage. Amounts are Money; the month is in ledger time (when an entry
 * was written), so a closed month can never change.
 */
export const LIABILITY_FIGURES = [
  'opening',
  'granted_paid',
  'granted_free',
  'burned_paid',
  'burned_free',
  'adjusted_paid',
  'adjusted_free',
  'expired_paid',
  'expired_free',
  'voided',
  'closing',
  'unfunded',
] as const;
export type LiabilityFigure = (typeof LIABILITY_FIGURES)[number];
export type LiabilityFigures = Record<LiabilityFigure, Money>;

export const emptyLiability = (): LiabilityFigures =>
  Object.fromEntries(LIABILITY_FIGURES.map((f) => [f, new Money(0)])) as LiabilityFigures;

export function addLiability(a: LiabilityFigures, b: LiabilityFigures): LiabilityFigures {
  return Object.fromEntries(LIABILITY_FIGURES.map((f) => [f, a[f].add(b[f])])) as LiabilityFigures;
}

/** opening + granted − burned − expired − voided − closing: zero when the figures are whole. */
export function liabilityGap(f: LiabilityFigures): Money {
  return f.opening
    .add(f.granted_paid)
    .add(f.granted_free)
    .sub(f.burned_paid)
    .sub(f.burned_free)
    .sub(f.expired_paid)
    .sub(f.expired_free)
    .sub(f.voided)
    .sub(f.closing);
}

export const isZeroLiability = (f: LiabilityFigures): boolean => LIABILITY_FIGURES.every((k) => f[k].isZero());

/**
 * Collects the figures of one month from a grant fold: pass `collect` as the fold's allocation
 * callback (with checkpoints 'start' and 'end' at the month's bounds), then `finish` with the two
 * snapshots.
 */
export function liabilityCollector(grants: readonly GrantSpec[]) {
  const kindOf = new Map(grants.map((g) => [g.grantId, g.creditKind]));
  const paid = (grantId: string) => isPaidCredit(kindOf.get(grantId) ?? '');
  const f = emptyLiability();
  const add = (figure: LiabilityFigure, amount: Money) => (f[figure] = f[figure].add(amount));
  return {
    collect(allocation: Allocation, _movement: GrantMovement, passed: ReadonlySet<string>): void {
      if (!passed.has('start') || passed.has('end')) return;
      switch (allocation.type) {
        case 'grant':
          add(paid(allocation.grantId) ? 'granted_paid' : 'granted_free', allocation.amount);
          add(paid(allocation.grantId) ? 'burned_paid' : 'burned_free', allocation.cover);
          return;
        case 'debit':
          for (const draw of allocation.draws) {
            if (draw.grantId === null) continue;
            add(paid(draw.grantId) ? 'burned_paid' : 'burned_free', draw.amount);
            if (allocation.source === 'adjustment') add(paid(draw.grantId) ? 'adjusted_paid' : 'adjusted_free', draw.amount);
          }
          return;
        case 'end':
          if (allocation.kind === 'void') add('voided', allocation.removed);
          else add(paid(allocation.grantId) ? 'expired_paid' : 'expired_free', allocation.removed);
      }
    },
    finish(start: GrantSnapshot, end: GrantSnapshot): LiabilityFigures {
      f.opening = [...start.remaining.values()].reduce((s, r) => s.add(r), new Money(0));
      f.closing = [...end.remaining.values()].reduce((s, r) => s.add(r), new Money(0));
      f.unfunded = end.unfunded;
      return f;
    },
  };
}
