import { Injectable } from '@nestjs/common';
import { Readable } from 'node:stream';
import { DataSource, type EntityManager } from 'typeorm';
import { type EntryMark, Money, formatMoney, isPaidCredit } from '@app/billing';
import { foldLedger } from './grants.service.js';
import { type AccountLedger, GrantsRepository } from './repositories/grants.repository.js';

/** Accounts folded per query round. */
const ACCOUNTS_PER_ROUND = 200;

export const GRANT_ALLOCATION_COLUMNS = ['entry_id', 'account_id', 'created_at', 'entry_kind', 'grant_id', 'grant_credit_kind', 'paid', 'amount'] as const;

/**
 * What finance needs to trace a debit to the grants it drew from: for every usage or negative
 * adjustment entry written in [from, to), one row per grant it drew from (and one with no grant
 * for what it left unfunded), and for every credit in the range that covered earlier unfunded
 * usage, a row for what it covered. Amounts are positive and add up to each entry's debit.
 * Computed by folding each account's grants from its first entry, one snapshot for the whole
 * export (repeatable read), rows by account then entry.
 */
@Injectable()
export class GrantAllocationsExport {
  constructor(
    private readonly db: DataSource,
    private readonly grants: GrantsRepository,
  ) {}

  async csv(range: { from?: Date; to?: Date }): Promise<Readable> {
    const runner = this.db.createQueryRunner('slave');
    await runner.connect();
    await runner.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const tx = runner.manager;
    const grants = this.grants;
    const done = async (ok: boolean) => {
      await runner.query(ok ? 'COMMIT' : 'ROLLBACK').catch(() => undefined);
      await runner.release();
    };
    async function* lines(): AsyncGenerator<string> {
      let ok = false;
      try {
        yield `${GRANT_ALLOCATION_COLUMNS.join(',')}\r\n`;
        const accounts = await accountsWithEntries(tx, range);
        for (let i = 0; i < accounts.length; i += ACCOUNTS_PER_ROUND) {
          const batch = accounts.slice(i, i + ACCOUNTS_PER_ROUND);
          const [ledgers, inRange] = await Promise.all([grants.ledgersOf(tx, batch), entriesInRange(tx, batch, range)]);
          for (const accountId of batch) {
            const entries = inRange.get(accountId) ?? [];
            if (!entries.length) continue;
            yield rowsOf(ledgers.get(accountId)!, entries);
          }
        }
        ok = true;
      } finally {
        await done(ok);
      }
    }
    return Readable.from(lines());
  }
}

interface RangeEntry {
  entry_id: string;
  kind: string;
  amount: string;
  balance_after: string;
  created_at: Date;
}

const rangeWhere = (range: { from?: Date; to?: Date }, first: number) =>
  `($${first}::timestamptz IS NULL OR created_at >= $${first}) AND ($${first + 1}::timestamptz IS NULL OR created_at < $${first + 1})`;

async function accountsWithEntries(tx: EntityManager, range: { from?: Date; to?: Date }): Promise<string[]> {
  const rows: { account_id: string }[] = await tx.query(
    `SELECT DISTINCT account_id FROM ledger_entries WHERE ${rangeWhere(range, 1)} ORDER BY account_id`,
    [range.from ?? null, range.to ?? null],
  );
  return rows.map((r) => r.account_id);
}

async function entriesInRange(tx: EntityManager, accounts: string[], range: { from?: Date; to?: Date }): Promise<Map<string, RangeEntry[]>> {
  const rows: (RangeEntry & { account_id: string })[] = await tx.query(
    `SELECT account_id, entry_id::text, kind, amount::text, balance_after::text, created_at FROM ledger_entries
     WHERE account_id = ANY($1::text[]) AND ${rangeWhere(range, 2)} ORDER BY account_id, entry_id`,
    [accounts, range.from ?? null, range.to ?? null],
  );
  const byAccount = new Map<string, RangeEntry[]>();
  for (const row of rows) (byAccount.get(row.account_id) ?? byAccount.set(row.account_id, []).get(row.account_id)!).push(row);
  return byAccount;
}

/** Folds one account with a mark at every usage entry of the range (and one just before the range), and writes its rows. */
function rowsOf(ledger: AccountLedger, entries: RangeEntry[]): string {
  const first = entries[0];
  const marks: EntryMark[] = [
    // Everything before the range is one movement of its own, never attributed to an entry in it.
    { entryId: BigInt(first.entry_id) - 1n, balanceAfter: new Money(first.balance_after).sub(first.amount), createdAt: first.created_at },
    ...entries.filter((e) => e.kind === 'usage').map((e) => ({ entryId: BigInt(e.entry_id), balanceAfter: new Money(e.balance_after), createdAt: e.created_at })),
  ];
  const inRange = new Map(entries.map((e) => [e.entry_id, e]));
  const kindOf = new Map(ledger.grants.map((g) => [g.spec.grantId, g.spec.creditKind]));
  const entryOfGrant = new Map(ledger.grants.map((g) => [g.spec.grantId, g.spec.entryId.toString()]));
  let out = '';
  const row = (entry: RangeEntry, grantId: string | null, amount: Money) => {
    const kind = grantId ? kindOf.get(grantId)! : '';
    out += `${[entry.entry_id, ledger.accountId, entry.created_at.toISOString(), entry.kind, grantId ?? '', kind, grantId ? String(isPaidCredit(kind)) : '', formatMoney(amount)].join(',')}\r\n`;
  };
  foldLedger(
    ledger,
    (allocation, movement) => {
      if (allocation.type === 'debit' && movement.type === 'debit' && movement.entryId !== undefined) {
        const entry = inRange.get(movement.entryId.toString());
        if (entry) for (const draw of allocation.draws) row(entry, draw.grantId, draw.amount);
      } else if (allocation.type === 'grant' && allocation.cover.gt(0)) {
        const entry = inRange.get(entryOfGrant.get(allocation.grantId)!);
        if (entry) row(entry, allocation.grantId, allocation.cover);
      }
    },
    undefined,
    marks,
  );
  return out;
}
