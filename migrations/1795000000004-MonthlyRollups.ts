import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Monthly totals per account x model x rate card version, kept by the same statement that keeps
 * the hourly rollups. Invoices read these: their cost grows with accounts and lines, never with
 * the number of events or of active hours in the month.
 */
export class MonthlyRollups1795000000004 implements MigrationInterface {
  name = 'MonthlyRollups1795000000004';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_rollups_monthly (
        account_id          text NOT NULL,
        month               date NOT NULL CHECK (date_trunc('month', month) = month),
        model_id            text NOT NULL,
        rate_card_version   integer NOT NULL,
        requests            bigint NOT NULL,
        input_tokens        bigint NOT NULL,
        cached_input_tokens bigint NOT NULL,
        output_tokens       bigint NOT NULL,
        cost                numeric(38,18) NOT NULL,
        PRIMARY KEY (account_id, month, model_id, rate_card_version)
      );
      CREATE INDEX usage_rollups_monthly_month ON usage_rollups_monthly (month);
      INSERT INTO usage_rollups_monthly
      SELECT account_id, (date_trunc('month', hour, 'UTC') AT TIME ZONE 'UTC')::date, model_id, rate_card_version,
        sum(requests), sum(input_tokens), sum(cached_input_tokens), sum(output_tokens), sum(cost)
      FROM usage_rollups GROUP BY 1, 2, 3, 4;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE usage_rollups_monthly');
  }
}
