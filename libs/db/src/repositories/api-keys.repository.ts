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

  async findActive(keyId: string): Promise<ApiKeyRow | null> {
    const rows: ApiKeyRow[] = await this.db.query(
      'SELECT key_id, account_id, secret_hash FROM api_keys WHERE key_id = $1 AND revoked_at IS NULL',
      [keyId],
    );
    return rows[0] ?? null;
  }
}
