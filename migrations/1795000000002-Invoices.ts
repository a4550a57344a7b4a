import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Monthly invoices. A draft is rebuilt from the rollups until it is finalized; a finalized invoice
 * never changes again (triggers refuse it) except to become void, and a void one never changes.
 * Numbers are INV-YYYY-MM-NNNNNN, gapless per month (a counter row moved in the creating transaction).
 */
export class Invoices1795000000002 implements MigrationInterface {
  name = 'Invoices1795000000002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE invoice_counters (
        period date PRIMARY KEY,
        last   integer NOT NULL
      );

      CREATE TABLE invoices (
        invoice_id          text PRIMARY KEY,
        number              text NOT NULL UNIQUE,
        account_id          text NOT NULL REFERENCES accounts,
        period              date NOT NULL CHECK (date_trunc('month', period) = period),
        status              text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'finalized', 'void')),
        currency            char(3) NOT NULL DEFAULT 'USD',
        opening_balance     numeric(38,18) NOT NULL,
        credits_total       numeric(38,18) NOT NULL,
        usage_total         numeric(38,18) NOT NULL,
        usage_total_rounded numeric(38,2) NOT NULL,
        closing_balance     numeric(38,18) NOT NULL,
        created_at          timestamptz NOT NULL DEFAULT now(),
        updated_at          timestamptz NOT NULL DEFAULT now(),
        finalized_at        timestamptz,
        voided_at           timestamptz,
        CHECK (opening_balance + credits_total - usage_total = closing_balance),
        CHECK (usage_total_rounded = round(usage_total, 2)),
        CHECK ((status = 'draft') = (finalized_at IS NULL)),
        CHECK ((status = 'void') = (voided_at IS NOT NULL))
      );
      -- One live invoice per account and month; a void one may be reissued.
      CREATE UNIQUE INDEX invoices_account_period ON invoices (account_id, period) WHERE status <> 'void';
      CREATE INDEX invoices_period ON invoices (period, status);

      -- usage_period is the month the usage belongs to: the invoice's own, or an earlier one for late usage.
      CREATE TABLE invoice_lines (
        invoice_id             text NOT NULL REFERENCES invoices,
        line_no                integer NOT NULL,
        model_id               text NOT NULL,
        token_class            text NOT NULL CHECK (token_class IN ('input', 'cached_input', 'output')),
        rate_card_version      integer NOT NULL,
        unit_price_per_million numeric(24,12) NOT NULL,
        tokens                 bigint NOT NULL CHECK (tokens > 0),
        amount                 numeric(38,18) NOT NULL,
        usage_period           date NOT NULL,
        PRIMARY KEY (invoice_id, line_no),
        CHECK (amount = tokens * unit_price_per_million * 0.000001)
      );
      CREATE INDEX invoice_lines_usage_period ON invoice_lines (usage_period);

      CREATE INDEX usage_rollups_hour ON usage_rollups (hour);

      CREATE FUNCTION invoice_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          RAISE EXCEPTION 'invoices are never deleted' USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.status = 'void' THEN
          RAISE EXCEPTION 'invoice % is void and immutable', OLD.number USING ERRCODE = 'restrict_violation';
        END IF;
        IF OLD.status = 'finalized' AND (
             NEW.status <> 'void'
             OR (NEW.invoice_id, NEW.number, NEW.account_id, NEW.period, NEW.currency, NEW.opening_balance, NEW.credits_total,
                 NEW.usage_total, NEW.usage_total_rounded, NEW.closing_balance, NEW.created_at, NEW.finalized_at)
                IS DISTINCT FROM
                (OLD.invoice_id, OLD.number, OLD.account_id, OLD.period, OLD.currency, OLD.opening_balance, OLD.credits_total,
                 OLD.usage_total, OLD.usage_total_rounded, OLD.closing_balance, OLD.created_at, OLD.finalized_at)) THEN
          RAISE EXCEPTION 'invoice % is finalized and immutable', OLD.number USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER invoices_immutable BEFORE UPDATE OR DELETE ON invoices
        FOR EACH ROW EXECUTE FUNCTION invoice_guard();

      CREATE FUNCTION invoice_line_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE
        parent text := CASE WHEN TG_OP = 'DELETE' THEN OLD.invoice_id ELSE NEW.invoice_id END;
      BEGIN
        IF (SELECT status FROM invoices WHERE invoice_id = parent) <> 'draft' THEN
          RAISE EXCEPTION 'lines of invoice % are final', parent USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
      END $$;
      CREATE TRIGGER invoice_lines_immutable BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines
        FOR EACH ROW EXECUTE FUNCTION invoice_line_guard();
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE invoice_lines, invoices, invoice_counters;
      DROP FUNCTION invoice_line_guard();
      DROP FUNCTION invoice_guard();
      DROP INDEX usage_rollups_hour;
    `);
  }
}
