import { Injectable } from '@nestjs/common';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver.js';
import { Money } from '@app/billing';
import type { AccountRow } from './accounts.repository.js';
import { type AccountLedger, LEDGER_COLUMNS, type FoldInputsRow, toLedger } from './grants.repository.js';

/** What GET balance shows, read together. */
export interface BalanceSnapshot {
  account: AccountRow;
  /** Σ of the holds that count now. */
  held: Money;
  /** The grant fold's inputs (next_expiry). */
  ledger: AccountLedger;
}

const BALANCE_READ = `SELECT a.account_id, a.name, a.currency, a.created_at, b.balance::text AS balance, b.last_usage_at, now() AS as_of,
    (SELECT coalesce(sum(h.amount), 0) FROM active_holds h
     WHERE h.account_id = b.account_id AND h.expires_at > clock_timestamp()
       AND NOT EXISTS (SELECT 1 FROM hold_ends e WHERE e.hold_id = h.hold_id))::text AS held,
    ${LEDGER_COLUMNS}
  FROM accounts a JOIN account_balances b USING (account_id) WHERE a.account_id = $1`;

/**
 * The balance read in one statement: the account, its balance, what its active holds hold and
 * the inputs of its grant fold, all from one snapshot (so available = balance - held exactly,
 * and next_expiry is of the same balance), in one round trip to Postgres (three queries in
 * parallel cost three connections and three socket writes per request), as a named statement.
 */
@Injectable()
export class BalancesRepository {
  constructor(private readonly db: DataSource) {}

  async read(accountId: string): Promise<BalanceSnapshot | null> {
    // A named statement: prepared once per connection, then Postgres reuses its plan (planning
    // it cost more than running it).
    const pool: Pool = (this.db.driver as PostgresDriver).master;
    const { rows } = await pool.query<Omit<AccountRow, 'balance'> & FoldInputsRow & { held: string }>({ name: 'balance_read', text: BALANCE_READ, values: [accountId] });
    const row = rows[0];
    if (!row) return null;
    const { grants, entries, held, ...account } = row;
    return { account, held: new Money(held), ledger: toLedger(accountId, { balance: row.balance, grants, entries }) };
  }
}
