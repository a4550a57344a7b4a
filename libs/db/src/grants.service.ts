import { Injectable, Logger } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import {
  type AccountFold,
  BillingException,
  BillingExceptionCode,
  EXPIRING_NOTICE_MS,
  type GrantStatus,
  Money,
  foldAccount,
  isPaidCredit,
} from '@app/billing';
import { type AccountLedger, type EndingWrite, type GrantRecord, GrantsRepository } from './repositories/grants.repository.js';

/** A grant as a reader sees it now: its remaining is the fold of every committed entry. */
export interface GrantView {
  grantId: string;
  accountId: string;
  creditKind: string;
  paid: boolean;
  amount: Money;
  remaining: Money;
  priority: number;
  expiresAt: Date | null;
  status: GrantStatus;
  createdAt: Date;
  entryId: string;
  endedAt: Date | null;
}

export interface AccountGrants {
  accountId: string;
  balance: Money;
  unfunded: Money;
  /** Newest first. */
  grants: GrantView[];
  /** The earliest expiry among active grants, and what they hold that expires then. */
  nextExpiry: { at: Date; amount: Money } | null;
}

export interface ExpiryRun {
  /** Grants that ended by expiry in this run. */
  expired: number;
  /** Of those, the ones that still held something (one ledger entry each). */
  entries: number;
  accounts: number;
}

/** Grants expired per transaction. */
export const EXPIRY_BATCH = 1000;
/** Only one process looks for grants to send credits.expiring for at a time. */
const EXPIRING_SCAN_LOCK = 7_000_014;

type FoldInput = Parameters<typeof foldAccount>[0];

/** Folds one account's grants over its ledger (see foldAccount), with checkpoints or entry marks if given. */
export function foldLedger(
  ledger: AccountLedger,
  onAllocation?: Parameters<typeof foldAccount>[1],
  checkpoints?: FoldInput['checkpoints'],
  marks?: FoldInput['marks'],
): AccountFold {
  return foldAccount(
    {
      grants: ledger.grants.map((g) => g.spec),
      endings: ledger.grants.flatMap((g) => (g.ending ? [g.ending] : [])),
      entries: ledger.entries,
      checkpoints,
      marks,
      end: ledger.balance,
    },
    onAllocation,
  );
}

export function grantViews(ledger: AccountLedger, fold: AccountFold): GrantView[] {
  return [...ledger.grants].reverse().map((g) => viewOf(g, fold));
}

function viewOf(g: GrantRecord, fold: AccountFold): GrantView {
  const created = fold.book.isCreated(g.spec.grantId);
  return {
    grantId: g.spec.grantId,
    accountId: g.accountId,
    creditKind: g.spec.creditKind,
    paid: isPaidCredit(g.spec.creditKind),
    amount: g.spec.amount,
    remaining: created ? fold.book.remaining(g.spec.grantId) : new Money(0),
    priority: g.spec.priority,
    expiresAt: g.spec.expiresAt,
    status: created ? fold.book.status(g.spec.grantId) : 'used',
    createdAt: g.createdAt,
    entryId: g.spec.entryId.toString(),
    endedAt: g.ending?.endedAt ?? null,
  };
}

export function nextExpiryOf(views: readonly GrantView[]): AccountGrants['nextExpiry'] {
  const expiring = views.filter((v) => v.status === 'active' && v.expiresAt !== null);
  if (!expiring.length) return null;
  const at = Math.min(...expiring.map((v) => v.expiresAt!.getTime()));
  const amount = expiring.filter((v) => v.expiresAt!.getTime() === at).reduce((sum, v) => sum.add(v.remaining), new Money(0));
  return { at: new Date(at), amount };
}

/** An account's grants as its ledger leaves them, and what expires next. */
export function accountGrants(ledger: AccountLedger): AccountGrants {
  const fold = foldLedger(ledger);
  const grants = grantViews(ledger, fold);
  return { accountId: ledger.accountId, balance: ledger.balance, unfunded: fold.book.unfunded, grants, nextExpiry: nextExpiryOf(grants) };
}

/**
 * Grants, read and ended. Reads fold the account's ledger in one snapshot, taking no lock; ends
 * (void, expiry) lock the grant, then the balance row, fold under that lock and append the entry
 * that removes what was left in the same transaction, so each grant ends once.
 */
@Injectable()
export class GrantsService {
  private readonly logger = new Logger('Grants');

  constructor(
    private readonly db: DataSource,
    private readonly grants: GrantsRepository,
  ) {}

  async ofAccount(accountId: string): Promise<AccountGrants | null> {
    const ledger = await this.grants.ledgerOf(accountId);
    return ledger && accountGrants(ledger);
  }

  /** Removes what is left of a grant now (chargeback); doing it again, or on an ended grant, changes nothing. */
  async void(accountId: string, grantId: string): Promise<GrantView> {
    await this.db.transaction(async (tx) => {
      await this.grants.lock(tx, grantId);
      const grant = await this.grants.find(grantId, tx);
      if (!grant || grant.accountId !== accountId) throw new BillingException(BillingExceptionCode.NOT_FOUND, `Account ${accountId} has no grant ${grantId}.`);
      if (grant.ending) return;
      await this.end(tx, [grant], 'void');
    });
    const state = await this.ofAccount(accountId);
    return state!.grants.find((g) => g.grantId === grantId)!;
  }

  /**
   * Expires up to `limit` grants whose expires_at has come, in one transaction. Runs in any
   * number of processes at once: each claims grants the others do not hold.
   */
  async expireDue(limit = EXPIRY_BATCH): Promise<ExpiryRun> {
    return this.db.transaction(async (tx) => {
      const due = await this.grants.claimDue(tx, limit);
      if (!due.length) return { expired: 0, entries: 0, accounts: 0 };
      const claimed = new Set(due.map((d) => d.grant_id));
      const records: GrantRecord[] = [];
      const ledgers = await this.lockAndRead(tx, [...new Set(due.map((d) => d.account_id))]);
      for (const ledger of ledgers.values()) records.push(...ledger.grants.filter((g) => claimed.has(g.spec.grantId) && !g.ending));
      const written = await this.end(tx, records, 'expiry', ledgers);
      return { expired: records.length, entries: written, accounts: ledgers.size };
    });
  }

  /** Expires everything that is due, batch after batch; returns the totals. */
  async expireAllDue(limit = EXPIRY_BATCH): Promise<ExpiryRun> {
    const total: ExpiryRun = { expired: 0, entries: 0, accounts: 0 };
    for (;;) {
      const run = await this.expireDue(limit);
      total.expired += run.expired;
      total.entries += run.entries;
      total.accounts += run.accounts;
      if (run.expired < limit) return total;
    }
  }

  /**
   * credits.expiring, once per grant: finds up to `limit` active grants that expire within 7 days
   * and were not noticed yet, folds their accounts (one snapshot) for what each has left, and
   * writes the event for those with something left (the others are noted, so they are not looked
   * at again). One process at a time; another one finding the scan taken skips it.
   * Returns the grants looked at and the events written.
   */
  async noticeExpiring(limit = EXPIRY_BATCH): Promise<{ grants: number; events: number }> {
    return this.db.transaction('REPEATABLE READ', async (tx) => {
      const [{ locked }] = await tx.query('SELECT pg_try_advisory_xact_lock($1) AS locked', [EXPIRING_SCAN_LOCK]);
      if (!locked) return { grants: 0, events: 0 };
      const due = await this.grants.expiringUnnoticed(tx, EXPIRING_NOTICE_MS, limit);
      if (!due.length) return { grants: 0, events: 0 };
      const ledgers = await this.grants.ledgersOf(tx, [...new Set(due.map((d) => d.account_id))]);
      const folds = new Map([...ledgers].map(([accountId, ledger]) => [accountId, foldLedger(ledger)]));
      const notices = due.map((d) => {
        const book = folds.get(d.account_id)!.book;
        return { grantId: d.grant_id, accountId: d.account_id, remaining: book.isCreated(d.grant_id) ? book.remaining(d.grant_id) : new Money(0) };
      });
      return { grants: due.length, events: await this.grants.writeExpiringNotices(tx, notices) };
    });
  }

  private async lockAndRead(tx: EntityManager, accountIds: string[]): Promise<Map<string, AccountLedger>> {
    await this.grants.lockBalances(tx, accountIds);
    return this.grants.ledgersOf(tx, accountIds);
  }

  /** Ends grants (holding their row locks): folds each account under its balance lock, removes what is left. */
  private async end(tx: EntityManager, records: GrantRecord[], kind: 'expiry' | 'void', read?: Map<string, AccountLedger>): Promise<number> {
    const accountIds = [...new Set(records.map((r) => r.accountId))];
    const ledgers = read ?? (await this.lockAndRead(tx, accountIds));
    const endings: EndingWrite[] = [];
    const balances = new Map<string, Money>();
    for (const accountId of accountIds.sort()) {
      const ledger = ledgers.get(accountId)!;
      balances.set(accountId, ledger.balance);
      const fold = foldLedger(ledger);
      if (fold.anomalies.length) this.logger.error(`account ${accountId}: the ledger does not fold cleanly: ${fold.anomalies.join('; ')}`);
      for (const record of records.filter((r) => r.accountId === accountId).sort((a, b) => (a.spec.entryId < b.spec.entryId ? -1 : 1))) {
        const left = fold.book.isCreated(record.spec.grantId) ? fold.book.remaining(record.spec.grantId) : new Money(0);
        endings.push({ accountId, grantId: record.spec.grantId, creditKind: record.spec.creditKind, kind, removed: left.gt(0) ? left : new Money(0) });
      }
    }
    const entries = await this.grants.writeEndings(tx, endings, balances);
    return entries.size;
  }
}
