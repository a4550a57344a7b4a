import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The launch catalog and rate card version 1 (README: launch prices), then the triggers that make a
 * rate card version immutable once it is in effect: prices can be added to a version only while
 * its effective_from is still in the future, and nothing is ever updated or deleted.
 */
export class SeedLaunchCatalog1795000000001 implements MigrationInterface {
  name = 'SeedLaunchCatalog1795000000001';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      INSERT INTO models (model_id, display_name, context_window, max_output_tokens)
      VALUES ('qwen3-5-4b', 'Qwen3.5 4B', 262144, 32768);

      INSERT INTO model_aliases (alias, model_id) VALUES
        ('Qwen3.5-4B', 'qwen3-5-4b'),
        ('Qwen3.5 4B', 'qwen3-5-4b'),
        ('Alibaba Cloud Qwen3.5 4B', 'qwen3-5-4b');

      INSERT INTO rate_card_versions (version, effective_from, currency)
      VALUES (1, '2026-01-01T00:00:00Z', 'USD');

      INSERT INTO rate_card_prices (version, model_id, input_per_million, output_per_million, cached_input_per_million)
      VALUES (1, 'qwen3-5-4b', 0.04, 0.07, 0.02);

      CREATE FUNCTION rate_card_price_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF (SELECT effective_from FROM rate_card_versions WHERE version = NEW.version) <= now() THEN
          RAISE EXCEPTION 'rate card version % is in effect and immutable', NEW.version
            USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
      END $$;

      CREATE TRIGGER rate_card_prices_insert_guard BEFORE INSERT ON rate_card_prices
        FOR EACH ROW EXECUTE FUNCTION rate_card_price_insert_guard();
      CREATE TRIGGER rate_card_prices_immutable BEFORE UPDATE OR DELETE ON rate_card_prices
        FOR EACH ROW EXECUTE FUNCTION forbid_change();
      CREATE TRIGGER rate_card_versions_immutable BEFORE UPDATE OR DELETE ON rate_card_versions
        FOR EACH ROW EXECUTE FUNCTION forbid_change();
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TRIGGER rate_card_versions_immutable ON rate_card_versions;
      DROP TRIGGER rate_card_prices_immutable ON rate_card_prices;
      DROP TRIGGER rate_card_prices_insert_guard ON rate_card_prices;
      DROP FUNCTION rate_card_price_insert_guard();
      DELETE FROM rate_card_prices WHERE version = 1;
      DELETE FROM rate_card_versions WHERE version = 1;
      DELETE FROM model_aliases WHERE model_id = 'qwen3-5-4b';
      DELETE FROM models WHERE model_id = 'qwen3-5-4b';
    `);
  }
}
