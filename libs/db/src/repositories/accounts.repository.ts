import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface AccountRow {
  account_id: string;
  name: string;
  currency: string;
  created_at: Date;
  balance: string;
  last_usage_at: Date | null;
  as_of: Date;
}

const SELECT_ACCOUNT = `
  SELECT a.account_id, a.name, a.currency, a.created_at, b.balance, b.last_usage_at, now() AS as_of
  FROM accounts a JOIN account_balances b USING (account_id)`;

@Injectable()
export class AccountsRepository {
  constructor(private readonly db: DataSource) {}

  /** Creates the account and its zero balance together; null when the id is taken. */
  async create(accountId: string, name: string): Promise<AccountRow | null> {
    const rows: AccountRow[] = await this.db.query(
      `WITH account AS (
         INSERT INTO accounts (account_id, name) VALUES ($1, $2)
         ON CONFLICT (account_id) DO NOTHING
         RETURNING account_id, name, currency, created_at
       ), balance AS (
         INSERT INTO account_balances (account_id) SELECT account_id FROM account
         RETURNING balance, last_usage_at
       )
       SELECT account.*, balance.*, now() AS as_of FROM account, balance`,
      [accountId, name],
    );
    return rows[0] ?? null;
  }

  async find(accountId: string): Promise<AccountRow | null> {
    const rows: AccountRow[] = await this.db.query(`${SELECT_ACCOUNT} WHERE a.account_id = $1`, [accountId]);
    return rows[0] ?? null;
  }

  async exists(accountId: string): Promise<boolean> {
    const rows = await this.db.query('SELECT 1 FROM accounts WHERE account_id = $1', [accountId]);
    return rows.length > 0;
  }

  /** Which of these accounts exist, in one query. */
  async existing(accountIds: string[]): Promise<Set<string>> {
    if (!accountIds.length) return new Set();
    const rows: { account_id: string }[] = await this.db.query('SELECT account_id FROM accounts WHERE account_id = ANY($1::text[])', [accountIds]);
    return new Set(rows.map((r) => r.account_id));
  }
}
