import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Credit grants. Every positive credit is a grant (one row per credit entry); usage and negative
 * adjustments draw from grants in burn order, and that allocation is a fold of the ledger, never
 * stored, so nothing here is written by the usage hot path. A grant row is immutable but for its
 * end (expiry or void), which is written once, in the transaction that appends the entry removing
 * what was left (or, with nothing left, no entry and the balance then, so the fold can place it).
 *
 * The ledger gains two kinds, `expiry` and `void`: negative, reference = the grant id, credit_kind
 * = the grant's. Existing positive credits and adjustments become grants (priority 50, no expiry).
 * The new checks are added NOT VALID and validated after, so a live ledger is not locked while
 * its rows are checked.
 */
export class CreditGrants1795000010000 implements MigrationInterface {
  name = 'CreditGrants1795000010000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
      ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check
        CHECK (kind IN ('credit', 'usage', 'adjustment', 'expiry', 'void')) NOT VALID;
      ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_removal_negative
        CHECK (kind NOT IN ('expiry', 'void') OR (amount < 0 AND reference IS NOT NULL)) NOT VALID;
      ALTER TABLE ledger_entries VALIDATE CONSTRAINT ledger_entries_kind_check;
      ALTER TABLE ledger_entries VALIDATE CONSTRAINT ledger_entries_removal_negative;

      CREATE TABLE grants (
        grant_id           text PRIMARY KEY,
        account_id         text NOT NULL REFERENCES accounts,
        entry_id           bigint NOT NULL UNIQUE REFERENCES ledger_entries,
        credit_kind        text NOT NULL CHECK (credit_kind IN ('purchase', 'promotional', 'refund', 'adjustment')),
        amount             numeric(38,18) NOT NULL CHECK (amount > 0),
        priority           smallint NOT NULL DEFAULT 50 CHECK (priority BETWEEN 0 AND 100),
        expires_at         timestamptz,
        created_at         timestamptz NOT NULL,
        end_kind           text CHECK (end_kind IN ('expiry', 'void')),
        ended_at           timestamptz,
        end_entry_id       bigint UNIQUE REFERENCES ledger_entries,
        end_after_entry_id bigint,
        end_balance        numeric(38,18),
        CHECK ((end_kind IS NULL) = (ended_at IS NULL)),
        CHECK (end_kind IS NOT NULL OR (end_entry_id IS NULL AND end_after_entry_id IS NULL AND end_balance IS NULL)),
        CHECK (end_kind IS NULL OR (end_entry_id IS NULL) = (end_balance IS NOT NULL))
      );
      CREATE INDEX grants_account ON grants (account_id, entry_id);
      -- What the expiry run looks for: shrinks as grants end.
      CREATE INDEX grants_due ON grants (expires_at) WHERE end_kind IS NULL AND expires_at IS NOT NULL;

      CREATE FUNCTION grant_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          RAISE EXCEPTION 'grants are never deleted' USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.end_kind IS NOT NULL
           OR (NEW.grant_id, NEW.account_id, NEW.entry_id, NEW.credit_kind, NEW.amount, NEW.priority, NEW.expires_at, NEW.created_at)
              IS DISTINCT FROM
              (OLD.grant_id, OLD.account_id, OLD.entry_id, OLD.credit_kind, OLD.amount, OLD.priority, OLD.expires_at, OLD.created_at) THEN
          RAISE EXCEPTION 'grant % is immutable but for its end, written once', OLD.grant_id USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER grants_immutable BEFORE UPDATE OR DELETE ON grants FOR EACH ROW EXECUTE FUNCTION grant_guard();

      INSERT INTO grants (grant_id, account_id, entry_id, credit_kind, amount, created_at)
      SELECT 'gr_' || entry_id, account_id, entry_id, credit_kind, amount, created_at
      FROM ledger_entries WHERE kind IN ('credit', 'adjustment') AND amount > 0 ORDER BY entry_id;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE grants;
      DROP FUNCTION grant_guard();
      ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_removal_negative;
      ALTER TABLE ledger_entries DROP CONSTRAINT ledger_entries_kind_check;
      ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_kind_check CHECK (kind IN ('credit', 'usage', 'adjustment'));
    `);
  }
}
