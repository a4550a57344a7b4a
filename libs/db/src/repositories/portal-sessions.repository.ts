import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface PortalSessionRow {
  session_id: string;
  account_id: string;
  secret_hash: Buffer;
}

/** Sessions that expired this long ago are deleted when a new one is made. */
const KEEP_EXPIRED = '1 day';

@Injectable()
export class PortalSessionsRepository {
  constructor(private readonly db: DataSource) {}

  /** Stores a session valid for ttlSeconds from now (the database's clock) and returns when it expires. */
  async create(sessionId: string, accountId: string, secretHash: Buffer, ttlSeconds: number): Promise<{ expires_at: Date }> {
    const rows: { expires_at: Date }[] = await this.db.query(
      `WITH swept AS (DELETE FROM portal_sessions WHERE expires_at < now() - interval '${KEEP_EXPIRED}')
       INSERT INTO portal_sessions (session_id, account_id, secret_hash, expires_at)
       VALUES ($1, $2, $3, now() + make_interval(secs => $4))
       RETURNING expires_at`,
      [sessionId, accountId, secretHash, ttlSeconds],
    );
    return rows[0];
  }

  /** The session if it exists and has not expired; null otherwise. */
  async findLive(sessionId: string): Promise<PortalSessionRow | null> {
    const rows: PortalSessionRow[] = await this.db.query(
      'SELECT session_id, account_id, secret_hash FROM portal_sessions WHERE session_id = $1 AND expires_at > now()',
      [sessionId],
    );
    return rows[0] ?? null;
  }
}
