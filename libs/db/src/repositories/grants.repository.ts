import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { type GrantEnding, type GrantSpec, Money, type StructuralEntry, formatMoney } from '@app/billing';
import { balanceEvents, isoSql, moneySql } from './balance-events.sql.js';

/** A grant as stored, with how it ended. */
export interface GrantRecord {
  spec: GrantSpec;
  accountId: string;
  createdAt: Date;
  ending: GrantEnding | null;
}

/** What the fold of one account needs: its grants, its entries that are not usage, its balance. */
export interface AccountLedger {
  accountId: string;
  balance: Money;
  grants: GrantRecord[];
  entries: StructuralEntry[];
}

type Queryable = DataSource | EntityManager;

// Instants travel as whole epoch milliseconds (floored), numerics and ids as text: nothing through a float.
const MS = (column: string) => `floor(extract(epoch FROM ${column}) * 1000)::bigint::text`;
const GRANT_FIELDS = `g.grant_id, g.account_id, g.entry_id::text, g.credit_kind, g.amount::text, g.priority, ${MS('g.expires_at')} AS expires_at,
  ${MS('g.created_at')} AS created_at, g.end_kind, ${MS('g.ended_at')} AS ended_at, g.end_entry_id::text, g.end_after_entry_id::text, g.end_balance::text`;
const ENTRY_FIELDS = `l.entry_id::text, l.account_id, l.kind, l.amount::text, l.balance_after::text, l.reference, ${MS('l.created_at')} AS created_at`;

interface GrantRow {
  grant_id: string;
  account_id: string;
  entry_id: string;
  credit_kind: string;
  amount: string;
  priority: number;
  expires_at: string | null;
  created_at: string;
  end_kind: 'expiry' | 'void' | null;
  ended_at: string | null;
  end_entry_id: string | null;
  end_after_entry_id: string | null;
  end_balance: string | null;
}

interface EntryRow {
  entry_id: string;
  account_id: string;
  kind: StructuralEntry['kind'];
  amount: string;
  balance_after: string;
  reference: string | null;
  created_at: string;
}

/**
 * The fold inputs of the account_balances row `b` as two json columns (grants, entries), for a
 * statement that reads them in its own snapshot with whatever else it reads.
 */
export const LEDGER_COLUMNS = `
  coalesce((SELECT json_agg(x ORDER BY x.entry_id::bigint) FROM (SELECT ${GRANT_FIELDS} FROM grants g WHERE g.account_id = b.account_id) x), '[]') AS grants,
  coalesce((SELECT json_agg(y ORDER BY y.entry_id::bigint) FROM (SELECT ${ENTRY_FIELDS} FROM ledger_entries l
    WHERE l.account_id = b.account_id AND l.kind <> 'usage') y), '[]') AS entries`;

/** A row carrying LEDGER_COLUMNS and the balance as text. */
export interface FoldInputsRow {
  balance: string;
  grants: GrantRow[];
  entries: EntryRow[];
}

export const toLedger = (accountId: string, row: FoldInputsRow): AccountLedger => ({
  accountId,
  balance: new Money(row.balance),
  grants: row.grants.map(toGrantRecord),
  entries: row.entries.map(toEntry),
});

const instant = (ms: string | null) => (ms === null ? null : new Date(Number(ms)));

export function toGrantRecord(row: GrantRow): GrantRecord {
  return {
    accountId: row.account_id,
    createdAt: instant(row.created_at)!,
    spec: {
      grantId: row.grant_id,
      entryId: BigInt(row.entry_id),
      creditKind: row.credit_kind,
      amount: new Money(row.amount),
      priority: row.priority,
      expiresAt: instant(row.expires_at),
    },
    ending: row.end_kind
      ? {
          grantId: row.grant_id,
          kind: row.end_kind,
          entryId: row.end_entry_id === null ? null : BigInt(row.end_entry_id),
          afterEntryId: row.end_after_entry_id === null ? null : BigInt(row.end_after_entry_id),
          balance: row.end_balance === null ? null : new Money(row.end_balance),
          endedAt: instant(row.ended_at)!,
        }
      : null,
  };
}

function toEntry(row: EntryRow): StructuralEntry {
  return {
    entryId: BigInt(row.entry_id),
    kind: row.kind,
    amount: new Money(row.amount),
    balanceAfter: new Money(row.balance_after),
    reference: row.reference,
    createdAt: instant(row.created_at)!,
  };
}

/** An ending to write: with an entry when something was left, else at the balance it saw. */
export interface EndingWrite {
  accountId: string;
  grantId: string;
  creditKind: string;
  kind: 'expiry' | 'void';
  /** What was left and is removed now (> 0), or 0. */
  removed: Money;
}

@Injectable()
export class GrantsRepository {
  constructor(private readonly db: DataSource) {}

  /** One account's fold inputs in one statement (one snapshot), for reads that take no lock. */
  async ledgerOf(accountId: string, db: Queryable = this.db): Promise<AccountLedger | null> {
    const rows: FoldInputsRow[] = await db.query(`SELECT b.balance::text AS balance, ${LEDGER_COLUMNS} FROM account_balances b WHERE b.account_id = $1`, [accountId]);
    return rows[0] ? toLedger(accountId, rows[0]) : null;
  }

  /**
   * Fold inputs of many accounts (all of them when `accountIds` is null). Call it inside a
   * repeatable-read transaction, or holding the accounts' balance locks, so the three reads agree.
   */
  async ledgersOf(tx: EntityManager, accountIds: string[] | null): Promise<Map<string, AccountLedger>> {
    const where = accountIds ? 'WHERE account_id = ANY($1::text[])' : '';
    const params = accountIds ? [accountIds] : [];
    const [balances, grants, entries] = await Promise.all([
      tx.query(`SELECT account_id, balance::text AS balance FROM account_balances ${where}`, params) as Promise<{ account_id: string; balance: string }[]>,
      tx.query(`SELECT ${GRANT_FIELDS} FROM grants g ${where.replace('account_id', 'g.account_id')} ORDER BY g.account_id, g.entry_id`, params) as Promise<GrantRow[]>,
      tx.query(
        `SELECT ${ENTRY_FIELDS} FROM ledger_entries l WHERE l.kind <> 'usage' ${accountIds ? 'AND l.account_id = ANY($1::text[])' : ''} ORDER BY l.account_id, l.entry_id`,
        params,
      ) as Promise<EntryRow[]>,
    ]);
    const ledgers = new Map<string, AccountLedger>(balances.map((b) => [b.account_id, { accountId: b.account_id, balance: new Money(b.balance), grants: [], entries: [] }]));
    for (const row of grants) ledgers.get(row.account_id)?.grants.push(toGrantRecord(row));
    for (const row of entries) ledgers.get(row.account_id)?.entries.push(toEntry(row));
    return ledgers;
  }

  async find(grantId: string, db: Queryable = this.db): Promise<GrantRecord | null> {
    const rows: GrantRow[] = await db.query(`SELECT ${GRANT_FIELDS} FROM grants g WHERE g.grant_id = $1`, [grantId]);
    return rows[0] ? toGrantRecord(rows[0]) : null;
  }

  /**
   * Claims up to `limit` grants whose expiry has come and that have not ended, skipping those
   * another expiry run holds (each run works on its own), oldest expiry first.
   */
  async claimDue(tx: EntityManager, limit: number): Promise<{ grant_id: string; account_id: string }[]> {
    return tx.query(
      `SELECT grant_id, account_id FROM grants
       WHERE end_kind IS NULL AND expires_at IS NOT NULL AND expires_at <= now()
       ORDER BY expires_at, grant_id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
  }

  /**
   * Up to `limit` active grants that expire within `withinMs` and have not been noticed yet
   * (credits.expiring), soonest first.
   */
  async expiringUnnoticed(tx: EntityManager, withinMs: number, limit: number): Promise<{ grant_id: string; account_id: string }[]> {
    return tx.query(
      `SELECT g.grant_id, g.account_id FROM grants g
       WHERE g.end_kind IS NULL AND g.expires_at IS NOT NULL AND g.expires_at > now() AND g.expires_at <= now() + $1 * interval '1 millisecond'
         AND NOT EXISTS (SELECT 1 FROM grant_expiry_notices n WHERE n.grant_id = g.grant_id)
       ORDER BY g.expires_at, g.grant_id LIMIT $2`,
      [withinMs, limit],
    );
  }

  /**
   * Notes the grants as noticed and writes credits.expiring for those with something left, in one
   * statement: a grant noticed already (by another worker) gets no second event. Returns how many
   * events were written.
   */
  async writeExpiringNotices(tx: EntityManager, notices: { grantId: string; accountId: string; remaining: Money }[]): Promise<number> {
    const rows: { events: number }[] = await tx.query(
      `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::numeric[]) WITH ORDINALITY AS t(grant_id, account_id, remaining, n)
       ), noticed AS (
         INSERT INTO grant_expiry_notices (grant_id) SELECT grant_id FROM input ORDER BY n ON CONFLICT (grant_id) DO NOTHING RETURNING grant_id
       ), events AS (
         INSERT INTO webhook_events (type, account_id, data)
         SELECT 'credits.expiring', i.account_id, jsonb_build_object('account_id', i.account_id, 'grant_id', i.grant_id, 'credit_kind', g.credit_kind,
           'remaining', ${moneySql('i.remaining')}, 'expires_at', ${isoSql('g.expires_at')})
         FROM input i JOIN noticed USING (grant_id) JOIN grants g USING (grant_id)
         WHERE i.remaining > 0 ORDER BY i.n
         RETURNING seq
       )
       SELECT count(*)::int AS events FROM events`,
      [notices.map((n) => n.grantId), notices.map((n) => n.accountId), notices.map((n) => formatMoney(n.remaining))],
    );
    return rows[0].events;
  }

  /** Locks one grant against other ends (void, expiry) until the transaction ends. */
  async lock(tx: EntityManager, grantId: string): Promise<void> {
    await tx.query('SELECT 1 FROM grants WHERE grant_id = $1 FOR UPDATE', [grantId]);
  }

  /** Locks the accounts' balance rows, in account order (as every writer does: no deadlocks). */
  async lockBalances(tx: EntityManager, accountIds: string[]): Promise<void> {
    await tx.query('SELECT 1 FROM account_balances WHERE account_id = ANY($1::text[]) ORDER BY account_id FOR UPDATE', [[...accountIds].sort()]);
  }

  /**
   * Writes grant ends, in the order given, holding the accounts' balance locks: for each one that
   * removes something, a ledger entry (its balance_after the running balance) and the balance
   * moved once per account; for each, the grant's end. Returns the entry ids by grant id.
   * The outbox gets credits.expired for each expiry that removed something, and the balance's
   * crossings (balance.low, balance.depleted), in the same statements.
   */
  async writeEndings(tx: EntityManager, endings: EndingWrite[], balances: Map<string, Money>): Promise<Map<string, string>> {
    const running = new Map(balances);
    const lastEntry = new Map<string, string>();
    const withEntry = endings.filter((e) => e.removed.gt(0));
    const entryRows = withEntry.map((e) => {
      const after = running.get(e.accountId)!.sub(e.removed);
      running.set(e.accountId, after);
      return { ...e, balanceAfter: after };
    });
    const entryIds = new Map<string, string>();
    if (entryRows.length) {
      // credits.expired for each expiry that removed something, in the statement that removes it.
      const inserted: { entry_id: string; reference: string; account_id: string }[] = await tx.query(
        `WITH inserted AS (
           INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, reference)
           SELECT account_id, kind, credit_kind, -removed, balance_after, grant_id
           FROM unnest($1::text[], $2::text[], $3::text[], $4::numeric[], $5::numeric[], $6::text[]) WITH ORDINALITY
             AS t(account_id, kind, credit_kind, removed, balance_after, grant_id, n)
           ORDER BY n
           RETURNING entry_id, reference, account_id, kind, credit_kind, amount
         ), expired AS (
           INSERT INTO webhook_events (type, account_id, data)
           SELECT 'credits.expired', i.account_id, jsonb_build_object('account_id', i.account_id, 'grant_id', i.reference, 'credit_kind', i.credit_kind,
             'amount', ${moneySql('-i.amount')}, 'entry_id', i.entry_id::text, 'expires_at', ${isoSql('g.expires_at')})
           FROM inserted i JOIN grants g ON g.grant_id = i.reference WHERE i.kind = 'expiry' ORDER BY i.entry_id
         )
         SELECT entry_id::text, reference, account_id FROM inserted`,
        [
          entryRows.map((e) => e.accountId),
          entryRows.map((e) => e.kind),
          entryRows.map((e) => e.creditKind),
          entryRows.map((e) => formatMoney(e.removed)),
          entryRows.map((e) => formatMoney(e.balanceAfter)),
          entryRows.map((e) => e.grantId),
        ],
      );
      for (const row of inserted) entryIds.set(row.reference, row.entry_id);
      const accounts = [...new Set(entryRows.map((e) => e.accountId))];
      await tx.query(
        `WITH moved AS (
           UPDATE account_balances b SET balance = t.balance, updated_at = now()
           FROM unnest($1::text[], $2::numeric[], $3::numeric[]) AS t(account_id, balance, before) WHERE b.account_id = t.account_id
           RETURNING b.account_id, b.balance, t.before AS balance_before, b.low_balance_threshold, NULL::bigint AS ledger_entry_id,
             b.recharge_entry_id, b.recharge_threshold, b.recharge_target, b.recharge_requested_at
         )${balanceEvents('moved')}
         SELECT count(*) FROM moved`,
        [accounts, accounts.map((a) => formatMoney(running.get(a)!)), accounts.map((a) => formatMoney(balances.get(a)!))],
      );
    }
    // Endings with nothing left sit after the account's latest entry, at its balance then.
    const bare = endings.filter((e) => !e.removed.gt(0));
    if (bare.length) {
      const latest: { account_id: string; entry_id: string }[] = await tx.query(
        `SELECT a.account_id, (SELECT max(entry_id) FROM ledger_entries l WHERE l.account_id = a.account_id)::text AS entry_id
         FROM unnest($1::text[]) a(account_id)`,
        [[...new Set(bare.map((e) => e.accountId))]],
      );
      for (const row of latest) lastEntry.set(row.account_id, row.entry_id);
    }
    await tx.query(
      `UPDATE grants g SET end_kind = t.kind, ended_at = now(), end_entry_id = t.entry_id, end_after_entry_id = t.after_entry_id, end_balance = t.balance
       FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::numeric[]) AS t(grant_id, kind, entry_id, after_entry_id, balance)
       WHERE g.grant_id = t.grant_id AND g.end_kind IS NULL`,
      [
        endings.map((e) => e.grantId),
        endings.map((e) => e.kind),
        endings.map((e) => entryIds.get(e.grantId) ?? null),
        endings.map((e) => (entryIds.has(e.grantId) ? null : (lastEntry.get(e.accountId) ?? null))),
        endings.map((e) => (entryIds.has(e.grantId) ? null : formatMoney(running.get(e.accountId)!))),
      ],
    );
    return entryIds;
  }
}
