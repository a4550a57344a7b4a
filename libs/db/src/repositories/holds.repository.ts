import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { type HoldStatus, Money } from '@app/billing';

export interface HoldRecord {
  /** Creation order (the cursor of lists). */
  seq: string;
  holdId: string;
  accountId: string;
  amount: Money;
  createdAt: Date;
  expiresAt: Date;
  endKind: 'settled' | 'released' | null;
  settledAmount: Money | null;
  settledEventId: string | null;
  endedAt: Date | null;
}

export interface AuthorizationInput {
  accountId: string;
  holdId: string;
  amount: Money;
  ttlSeconds: number;
  requestKey: string;
}

export type AuthorizationOutcome = 'held' | 'existing' | 'conflict' | 'declined' | 'unknown_account';

export interface AuthorizationRow {
  outcome: AuthorizationOutcome;
  /** What is available after this request (held: after the new hold). */
  available: Money | null;
  /** The hold as stored now: taken now (held), or already under this id (existing, conflict). */
  hold: HoldRecord | null;
}

interface HoldRow {
  seq: string;
  hold_id: string;
  account_id: string;
  amount: string;
  created_at: Date;
  expires_at: Date;
  kind: 'settled' | 'released' | null;
  settled_amount: string | null;
  event_id: string | null;
  ended_at: Date | null;
}

const HOLD_COLUMNS = `h.seq::text, h.hold_id, h.account_id, h.amount::text, h.created_at, h.expires_at, e.kind, e.settled_amount::text, e.event_id, e.ended_at`;

function toHold(row: HoldRow): HoldRecord {
  return {
    seq: row.seq,
    holdId: row.hold_id,
    accountId: row.account_id,
    amount: new Money(row.amount),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    endKind: row.kind,
    settledAmount: row.settled_amount === null ? null : new Money(row.settled_amount),
    settledEventId: row.event_id,
    endedAt: row.ended_at,
  };
}

/** The status filter of a list, in SQL (the clock decides active or expired, as holdStatus does). */
const STATUS_WHERE: Record<HoldStatus, string> = {
  active: 'e.kind IS NULL AND h.expires_at > clock_timestamp()',
  expired: 'e.kind IS NULL AND h.expires_at <= clock_timestamp()',
  settled: "e.kind = 'settled'",
  released: "e.kind = 'released'",
};

@Injectable()
export class HoldsRepository {
  constructor(private readonly db: DataSource) {}

  /** One call of authorize_holds for requests of any accounts; results in the order given. */
  async authorize(requests: AuthorizationInput[]): Promise<AuthorizationRow[]> {
    const rows: (HoldRow & { n: number; outcome: AuthorizationOutcome; available: string | null })[] = await this.db.query(
      `SELECT n, outcome, available::text, seq::text, hold_id, account_id, amount::text, created_at, expires_at,
         end_kind AS kind, settled_amount::text, event_id, ended_at
       FROM authorize_holds($1::jsonb)`,
      [
        JSON.stringify(
          requests.map((r, n) => ({ n, account_id: r.accountId, hold_id: r.holdId, amount: r.amount.toFixed(), ttl: r.ttlSeconds, request_key: r.requestKey })),
        ),
      ],
    );
    const byN = new Map(rows.map((r) => [r.n, r]));
    return requests.map((_, n) => {
      const row = byN.get(n)!;
      return {
        outcome: row.outcome,
        available: row.available === null ? null : new Money(row.available),
        hold: row.seq === null ? null : toHold(row),
      };
    });
  }

  async find(holdId: string): Promise<HoldRecord | null> {
    const rows: HoldRow[] = await this.db.query(`SELECT ${HOLD_COLUMNS} FROM holds h LEFT JOIN hold_ends e USING (hold_id) WHERE h.hold_id = $1`, [holdId]);
    return rows[0] ? toHold(rows[0]) : null;
  }

  /** Newest first; `before` is the seq of the last hold of the previous page. */
  async list(accountId: string, query: { status?: HoldStatus; before?: string; limit: number }): Promise<HoldRecord[]> {
    const params: unknown[] = [accountId];
    const where = ['h.account_id = $1'];
    if (query.status) where.push(STATUS_WHERE[query.status]);
    if (query.before) where.push(`h.seq < $${params.push(query.before)}`);
    const rows: HoldRow[] = await this.db.query(
      `SELECT ${HOLD_COLUMNS} FROM holds h LEFT JOIN hold_ends e USING (hold_id)
       WHERE ${where.join(' AND ')} ORDER BY h.seq DESC LIMIT $${params.push(query.limit)}`,
      params,
    );
    return rows.map(toHold);
  }

  /**
   * Vacuums active_holds, the one table of holds whose rows die young: each authorization of an
   * account deletes the rows of its ended and expired holds. SKIP_LOCKED: when another vacuum of
   * it (another API process's, or autovacuum's) is running, this one does nothing.
   */
  async vacuumActiveHolds(): Promise<void> {
    await this.db.query('VACUUM (SKIP_LOCKED) active_holds');
  }

  /** Ends an active hold as released; a hold that is settled, released or expired stays as it is. */
  async release(holdId: string): Promise<void> {
    await this.db.query(
      `INSERT INTO hold_ends (hold_id, kind) SELECT hold_id, 'released' FROM holds WHERE hold_id = $1 AND expires_at > clock_timestamp()
       ON CONFLICT (hold_id) DO NOTHING`,
      [holdId],
    );
  }
}
