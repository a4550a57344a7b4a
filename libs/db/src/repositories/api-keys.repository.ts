import { Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';

export interface ApiKeyRow {
  key_id: string;
  account_id: string;
  secret_hash: Buffer;
}

@Injectable()
export class ApiKeysRepository {
  constructor(private readonly db: DataSource) {}

  async insert(keyId: string, accountId: string, secretHash: Buffer): Promise<{ key_id: string; created_at: Date }> {
    const rows = await this.db.query(
      'INSERT INTO api_keys (key_id, account_id, secret_hash) VALUES ($1, $2, $3) RETURNING key_id, created_at',
      [keyId, accountId, secretHash],
    );
    return rows[0];
  }

  list(accountId: string): Promise<{ key_id: string; created_at: Date; revoked_at: Date | null }[]> {
    return this.db.query('SELECT key_id, created_at, revoked_at FROM api_keys WHERE account_id = $1 ORDER BY created_at, key_id', [accountId]);
  }

  /** Revokes the key if it belongs to the account; false when there is no such key. Revoking twice is harmless. */
  async revoke(accountId: string, keyId: string): Promise<boolean> {
    // Through a CTE: TypeORM hands back [rows, count] for a bare UPDATE ... RETURNING.
    const rows = await this.db.query(
      'WITH revoked AS (UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE account_id = $1 AND key_id = $2 RETURNING key_id) SELECT key_id FROM revoked',
      [accountId, keyId],
    );
    return rows.length > 0;
  }

  async findActive(keyId: string): Promise<ApiKeyRow | null> {
    const rows: ApiKeyRow[] = await this.db.query(
      'SELECT key_id, account_id, secret_hash FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL',
      [keyId],
    );
    return rows[0] ?? null;
  }
}
