import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { GRANT_ID_PREFIX } from '@app/billing';
import { balanceEvents } from './balance-events.sql.js';

export interface LedgerRow {
  entry_id: string;
  account_id: string;
  kind: 'credit' | 'usage' | 'adjustment' | 'expiry' | 'void';
  credit_kind: string | null;
  amount: string;
  balance_after: string;
  reference: string | null;
  event_count: number | null;
  created_at: Date;
  request_hash: string | null;
  /** The grant a positive credit created (credit() only). */
  grant_id?: string | null;
}

export interface CreditInput {
  accountId: string;
  kind: 'credit' | 'adjustment';
  creditKind: string;
  amount: string;
  reference: string | null;
  idempotencyKey: string;
  requestHash: string;
  /** A positive amount is a grant: drawn from in this priority (0-100), until it expires (null: never). */
  priority: number;
  expiresAt: Date | null;
}

export interface LedgerQuery {
  accountId: string;
  from?: Date;
  to?: Date;
  /** Entries older than this entry id (the cursor). */
  before?: string;
  limit: number;
}

// node-postgres hands bigint and numeric over as strings already: no casts, so every output
// column keeps its table column's name and type (an ORDER BY on it sorts numbers, not text).
const COLUMNS = `entry_id, account_id, kind, credit_kind, amount, balance_after,
  reference, event_count, created_at, request_hash`;

@Injectable()
export class LedgerRepository {
  constructor(private readonly db: DataSource) {}

  /**
   * Appends a credit and moves the balance: the balance row's lock orders concurrent credits, and
   * balance_after is what the statement made it. When the idempotency
   * key was used already, nothing is written and `created` is false with the existing entry.
   * The same statement closes the account's open recharge request when this credit carries its
   * idempotency key, and writes the balance's crossings (balance.recovered, or for a negative
   * adjustment balance.low and balance.depleted) into the outbox.
   */
  async credit(input: CreditInput): Promise<{ created: boolean; entry: LedgerRow }> {
    return this.db.transaction(async (tx) => {
      // Lock the balance row before the entry id is drawn, so that per account, entry ids rise in
      // the order the balance moved (ledger order, paging and the running-balance check rely on it).
      await tx.query('SELECT 1 FROM account_balances WHERE account_id = $1 FOR UPDATE', [input.accountId]);
      const inserted: LedgerRow[] = await tx.query(
        `WITH balance AS (
           UPDATE account_balances b SET balance = b.balance + $2::numeric, updated_at = now(),
             recharge_entry_id = CASE WHEN 'rch_' || b.recharge_entry_id = $6 THEN NULL ELSE b.recharge_entry_id END,
             recharge_requested_at = CASE WHEN 'rch_' || b.recharge_entry_id = $6 THEN NULL ELSE b.recharge_requested_at END
           WHERE b.account_id = $1
           RETURNING b.account_id, b.balance, b.balance - $2::numeric AS balance_before, b.low_balance_threshold, NULL::bigint AS ledger_entry_id,
             b.recharge_entry_id, b.recharge_threshold, b.recharge_target, b.recharge_requested_at
         ), entry AS (
           INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after, reference, idempotency_key, request_hash)
           SELECT $1, $3, $4, $2::numeric, balance.balance, $5, $6, $7 FROM balance
           ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
           RETURNING ${COLUMNS}
         ), grant_row AS (
           INSERT INTO grants (grant_id, account_id, entry_id, credit_kind, amount, priority, expires_at, created_at)
           SELECT $10 || entry_id, account_id, entry_id, credit_kind, amount, $8, $9, created_at FROM entry WHERE amount > 0
           RETURNING grant_id
         )${balanceEvents('balance')}
         SELECT entry.*, (SELECT grant_id FROM grant_row) AS grant_id FROM entry`,
        [input.accountId, input.amount, input.kind, input.creditKind, input.reference, input.idempotencyKey, input.requestHash, input.priority, input.expiresAt, GRANT_ID_PREFIX],
      );
      if (inserted[0]) return { created: true, entry: inserted[0] };
      // The key was used before: throwing rolls the balance move back.
      throw new IdempotentReplay();
    }).catch(async (error) => {
      if (!(error instanceof IdempotentReplay)) throw error;
      const rows: LedgerRow[] = await this.db.query(
        `SELECT ${COLUMNS}, (SELECT grant_id FROM grants g WHERE g.entry_id = l.entry_id) AS grant_id
         FROM ledger_entries l WHERE account_id = $1 AND idempotency_key = $2`,
        [input.accountId, input.idempotencyKey],
      );
      return { created: false, entry: rows[0] };
    });
  }

  async list(query: LedgerQuery): Promise<LedgerRow[]> {
    const params: unknown[] = [query.accountId];
    const where = ['l.account_id = $1'];
    if (query.from) where.push(`l.created_at >= $${params.push(query.from)}`);
    if (query.to) where.push(`l.created_at < $${params.push(query.to)}`);
    if (query.before) where.push(`l.entry_id < $${params.push(query.before)}`);
    return this.db.query(
      `SELECT ${COLUMNS} FROM ledger_entries l WHERE ${where.join(' AND ')}
       ORDER BY l.entry_id DESC LIMIT $${params.push(query.limit)}`,
      params,
    );
  }
}

/** Thrown inside the credit transaction to roll it back when the key was already used. */
class IdempotentReplay extends Error {}
