import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Portal sessions: links that open the customer portal for one account, read-only, until they
 * expire. Only the SHA-256 of the token is kept, as for API keys. Expired rows are swept by the
 * statement that creates a new session, through the index on expires_at.
 */
export class PortalSessions1795000004000 implements MigrationInterface {
  name = 'PortalSessions1795000004000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE portal_sessions (
        session_id  text PRIMARY KEY,
        account_id  text NOT NULL REFERENCES accounts,
        secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
        created_at  timestamptz NOT NULL DEFAULT now(),
        expires_at  timestamptz NOT NULL,
        CHECK (expires_at > created_at)
      );
      CREATE INDEX portal_sessions_expires ON portal_sessions (expires_at);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE portal_sessions');
  }
}
