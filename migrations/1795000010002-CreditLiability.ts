import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A closed month's credit liability, frozen: the first report asked for after the month is over
 * stores its rows here, and every later report of that month reads them, like a finalized
 * invoice. Months are in ledger time, so nothing written later can belong to a closed month;
 * reconciliation recomputes the frozen months and compares.
 */
export class CreditLiability1795000010002 implements MigrationInterface {
  name = 'CreditLiability1795000010002';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE credit_liability_months (
        period    date PRIMARY KEY CHECK (date_trunc('month', period) = period),
        accounts  integer NOT NULL,
        frozen_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE credit_liability_rows (
        period        date NOT NULL REFERENCES credit_liability_months,
        account_id    text NOT NULL REFERENCES accounts,
        opening       numeric(38,18) NOT NULL,
        granted_paid  numeric(38,18) NOT NULL,
        granted_free  numeric(38,18) NOT NULL,
        burned_paid   numeric(38,18) NOT NULL,
        burned_free   numeric(38,18) NOT NULL,
        adjusted_paid numeric(38,18) NOT NULL,
        adjusted_free numeric(38,18) NOT NULL,
        expired_paid  numeric(38,18) NOT NULL,
        expired_free  numeric(38,18) NOT NULL,
        voided        numeric(38,18) NOT NULL,
        closing       numeric(38,18) NOT NULL,
        unfunded      numeric(38,18) NOT NULL,
        PRIMARY KEY (period, account_id),
        CHECK (opening + granted_paid + granted_free - burned_paid - burned_free - expired_paid - expired_free - voided = closing)
      );
      CREATE TRIGGER credit_liability_months_frozen BEFORE UPDATE OR DELETE ON credit_liability_months FOR EACH ROW EXECUTE FUNCTION forbid_change();
      CREATE TRIGGER credit_liability_rows_frozen BEFORE UPDATE OR DELETE ON credit_liability_rows FOR EACH ROW EXECUTE FUNCTION forbid_change();
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE credit_liability_rows, credit_liability_months');
  }
}
