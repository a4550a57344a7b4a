import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * usage_events becomes PARTITION BY RANGE (occurred_at), one partition a month, plus a default
 * partition that catches any event whose month has no partition yet (it is billed all the same,
 * and moves into its month's partition when that is created). A partitioned table's unique keys
 * must include the partition key, so the global uniqueness of event_id (what makes every
 * redelivery a duplicate and every reuse a conflict) lives in usage_event_ids, written by the same
 * statement, with the content hash that tells the two apart. Every read of usage_events is by
 * occurred_at range (pruned to its months) or by event_id through usage_event_ids (which gives
 * the month).
 *
 * Leaner rows while the table is rebuilt: usage and metadata are kept as json (the text as
 * received, which is what an audit wants) instead of jsonb (parsed into binary on every insert,
 * for queries that never look inside). ensure_usage_event_partitions() creates missing months;
 * the worker calls it at start and daily, for the current month and three ahead.
 *
 * This migration copies the events into the new table in one transaction: right for a database of
 * up to some millions of events. docs/operations.md ("Converting a large existing database") gives
 * the procedure for a large one, where the partitioned table is built beside the old one while the
 * service runs and swapped in, ending in the schema this migration makes.
 */
export class PartitionUsageEvents1795000015000 implements MigrationInterface {
  name = 'PartitionUsageEvents1795000015000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE usage_events RENAME TO usage_events_unpartitioned;
      ALTER INDEX usage_events_pkey RENAME TO usage_events_unpartitioned_pkey;
      ALTER INDEX usage_events_account_time RENAME TO usage_events_unpartitioned_account_time;
      ALTER INDEX usage_events_time RENAME TO usage_events_unpartitioned_time;

      -- Global uniqueness of event_id, and the content hash that tells a redelivery from a conflict.
      CREATE TABLE usage_event_ids (
        event_id     text PRIMARY KEY,
        occurred_at  timestamptz NOT NULL,
        content_hash text NOT NULL
      );

      CREATE TABLE usage_events (
        event_id            text NOT NULL,
        account_id          text NOT NULL,
        model_id            text NOT NULL,
        endpoint            text NOT NULL,
        occurred_at         timestamptz NOT NULL,
        rate_card_version   integer NOT NULL,
        input_tokens        integer NOT NULL CHECK (input_tokens >= 0),
        cached_input_tokens integer NOT NULL CHECK (cached_input_tokens >= 0),
        output_tokens       integer NOT NULL CHECK (output_tokens >= 0),
        cache_reported      boolean NOT NULL,
        cost                numeric(38,18) NOT NULL CHECK (cost >= 0),
        usage               json NOT NULL,
        metadata            json,
        hold_id             text,
        ledger_entry_id     bigint NOT NULL,
        received_at         timestamptz NOT NULL DEFAULT now()
      ) PARTITION BY RANGE (occurred_at);
      -- The finance export's order (by time, then id) and one account's events by time (its own export).
      CREATE INDEX usage_events_time ON usage_events (occurred_at, event_id);
      CREATE INDEX usage_events_account_time ON usage_events (account_id, occurred_at);
      CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT;

      CREATE FUNCTION ensure_usage_event_partitions(p_from date, p_to date) RETURNS integer LANGUAGE plpgsql AS $$
      DECLARE
        m date := date_trunc('month', p_from)::date;
        made integer := 0;
        part text;
        lo text;
        hi text;
      BEGIN
        -- One upkeep at a time (every worker runs it).
        PERFORM pg_advisory_xact_lock(7000003);
        WHILE m < p_to LOOP
          part := 'usage_events_y' || to_char(m, 'YYYY') || 'm' || to_char(m, 'MM');
          IF to_regclass(part) IS NULL THEN
            lo := to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00';
            hi := to_char((m + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00';
            EXECUTE format('CREATE TABLE %I (LIKE usage_events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
            -- Events that waited in the default partition move into their month first.
            EXECUTE format('WITH moved AS (DELETE FROM usage_events_default WHERE occurred_at >= %L AND occurred_at < %L RETURNING *)
                            INSERT INTO %I SELECT * FROM moved', lo, hi, part);
            EXECUTE format('ALTER TABLE usage_events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
            made := made + 1;
          END IF;
          m := (m + interval '1 month')::date;
        END LOOP;
        RETURN made;
      END $$;

      SELECT ensure_usage_event_partitions(
        least(date '2026-01-01', (SELECT min(occurred_at) FROM usage_events_unpartitioned)::date),
        (date_trunc('month', now()) + interval '4 months')::date);

      INSERT INTO usage_event_ids (event_id, occurred_at, content_hash)
      SELECT event_id, occurred_at, content_hash FROM usage_events_unpartitioned;
      INSERT INTO usage_events (event_id, account_id, model_id, endpoint, occurred_at, rate_card_version, input_tokens,
        cached_input_tokens, output_tokens, cache_reported, cost, usage, metadata, hold_id, ledger_entry_id, received_at)
      SELECT event_id, account_id, model_id, endpoint, occurred_at, rate_card_version, input_tokens,
        cached_input_tokens, output_tokens, cache_reported, cost, usage::json, metadata::json, hold_id, ledger_entry_id, received_at
      FROM usage_events_unpartitioned;
      DROP TABLE usage_events_unpartitioned;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE usage_events_unpartitioned (
        event_id            text PRIMARY KEY,
        account_id          text NOT NULL,
        model_id            text NOT NULL,
        endpoint            text NOT NULL,
        occurred_at         timestamptz NOT NULL,
        rate_card_version   integer NOT NULL,
        input_tokens        integer NOT NULL CHECK (input_tokens >= 0),
        cached_input_tokens integer NOT NULL CHECK (cached_input_tokens >= 0),
        output_tokens       integer NOT NULL CHECK (output_tokens >= 0),
        cache_reported      boolean NOT NULL,
        cost                numeric(38,18) NOT NULL CHECK (cost >= 0),
        content_hash        text NOT NULL,
        usage               jsonb NOT NULL,
        metadata            jsonb,
        ledger_entry_id     bigint NOT NULL,
        received_at         timestamptz NOT NULL DEFAULT now(),
        hold_id             text
      );
      INSERT INTO usage_events_unpartitioned
      SELECT e.event_id, e.account_id, e.model_id, e.endpoint, e.occurred_at, e.rate_card_version, e.input_tokens, e.cached_input_tokens,
        e.output_tokens, e.cache_reported, e.cost, i.content_hash, e.usage::jsonb, e.metadata::jsonb, e.ledger_entry_id, e.received_at, e.hold_id
      FROM usage_events e JOIN usage_event_ids i USING (event_id);
      DROP TABLE usage_events;
      DROP TABLE usage_event_ids;
      DROP FUNCTION ensure_usage_event_partitions(date, date);
      ALTER TABLE usage_events_unpartitioned RENAME TO usage_events;
      ALTER INDEX usage_events_unpartitioned_pkey RENAME TO usage_events_pkey;
      CREATE INDEX usage_events_account_time ON usage_events (account_id, occurred_at);
      CREATE INDEX usage_events_time ON usage_events (occurred_at, event_id);
    `);
  }
}
