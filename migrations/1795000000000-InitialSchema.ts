import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The whole schema. Money is numeric(38,18) (LEDGER_SCALE), per-million prices numeric(24,12)
 * (PRICE_SCALE): one token at a 12-decimal per-million price costs at most 18 decimals, so
 * every per-event cost is stored exactly.
 *
 * usage_events is the hot-path table. It has no inbound foreign keys and every read of it is
 * bounded by occurred_at or keyed by event_id, so it can become PARTITION BY RANGE (occurred_at)
 * by month; the global uniqueness of event_id then moves to a narrow (event_id) table.
 */
export class InitialSchema1795000000000 implements MigrationInterface {
  name = 'InitialSchema1795000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION '% is immutable: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
      END $$;

      CREATE TABLE models (
        model_id          text PRIMARY KEY CHECK (model_id ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
        display_name      text NOT NULL,
        context_window    integer NOT NULL CHECK (context_window > 0),
        max_output_tokens integer NOT NULL CHECK (max_output_tokens > 0),
        created_at        timestamptz NOT NULL DEFAULT now()
      );

      -- Aliases keep their display spelling and are matched case-insensitively.
      CREATE TABLE model_aliases (
        alias    text NOT NULL CHECK (alias = btrim(alias) AND alias <> ''),
        model_id text NOT NULL REFERENCES models
      );
      CREATE UNIQUE INDEX model_aliases_folded ON model_aliases (lower(alias));

      CREATE TABLE rate_card_versions (
        version        integer PRIMARY KEY CHECK (version > 0),
        effective_from timestamptz NOT NULL UNIQUE,
        currency       char(3) NOT NULL DEFAULT 'USD',
        created_at     timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE rate_card_prices (
        version                  integer NOT NULL REFERENCES rate_card_versions,
        model_id                 text NOT NULL REFERENCES models,
        input_per_million        numeric(24,12) NOT NULL CHECK (input_per_million >= 0),
        output_per_million       numeric(24,12) NOT NULL CHECK (output_per_million >= 0),
        cached_input_per_million numeric(24,12) NOT NULL CHECK (cached_input_per_million >= 0),
        PRIMARY KEY (version, model_id)
      );

      CREATE TABLE accounts (
        account_id text PRIMARY KEY CHECK (account_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$'),
        name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        currency   char(3) NOT NULL DEFAULT 'USD',
        created_at timestamptz NOT NULL DEFAULT now()
      );

      -- One row per account, moved only by the statements that append to the ledger.
      CREATE TABLE account_balances (
        account_id    text PRIMARY KEY REFERENCES accounts,
        balance       numeric(38,18) NOT NULL DEFAULT 0,
        last_usage_at timestamptz,
        updated_at    timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE api_keys (
        key_id      text PRIMARY KEY,
        account_id  text NOT NULL REFERENCES accounts,
        secret_hash bytea NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now(),
        revoked_at  timestamptz
      );
      CREATE INDEX api_keys_account ON api_keys (account_id);

      -- Append-only. kind is what the ledger shows (credit | usage | adjustment);
      -- credit_kind keeps what the operator asked for (purchase | promotional | refund | adjustment).
      CREATE TABLE ledger_entries (
        entry_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        account_id      text NOT NULL REFERENCES accounts,
        kind            text NOT NULL CHECK (kind IN ('credit', 'usage', 'adjustment')),
        credit_kind     text CHECK (credit_kind IN ('purchase', 'promotional', 'refund', 'adjustment')),
        amount          numeric(38,18) NOT NULL,
        balance_after   numeric(38,18) NOT NULL,
        reference       text,
        idempotency_key text,
        request_hash    text,
        event_count     integer,
        created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
        CHECK ((kind = 'usage') = (credit_kind IS NULL)),
        CHECK (kind <> 'usage' OR amount <= 0),
        CHECK (kind <> 'credit' OR amount > 0),
        UNIQUE (account_id, idempotency_key)
      );
      CREATE INDEX ledger_entries_account ON ledger_entries (account_id, entry_id DESC);
      CREATE INDEX ledger_entries_created ON ledger_entries (created_at);
      CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
        FOR EACH ROW EXECUTE FUNCTION forbid_change();

      -- One row per priced event; event_id is the gateway's request id and the idempotency key.
      CREATE TABLE usage_events (
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
        received_at         timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX usage_events_account_time ON usage_events (account_id, occurred_at);
      CREATE INDEX usage_events_time ON usage_events (occurred_at);

      -- Every event that was not priced, with why, and what was received.
      CREATE TABLE rejected_events (
        rejection_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id     text,
        account_id   text,
        reason       text NOT NULL,
        detail       text NOT NULL,
        payload      jsonb NOT NULL,
        payload_hash text NOT NULL,
        source       text NOT NULL CHECK (source IN ('queue', 'http')),
        received_at  timestamptz NOT NULL DEFAULT now(),
        UNIQUE (payload_hash, reason)
      );
      CREATE INDEX rejected_events_received ON rejected_events (received_at, rejection_id);
      CREATE INDEX rejected_events_event ON rejected_events (event_id);

      -- Hourly totals per account x model x rate card version; token classes as billed
      -- (input_tokens is uncached input). Invoices and usage series read these, not events.
      CREATE TABLE usage_rollups (
        account_id          text NOT NULL,
        hour                timestamptz NOT NULL CHECK (date_trunc('hour', hour) = hour),
        model_id            text NOT NULL,
        rate_card_version   integer NOT NULL,
        requests            bigint NOT NULL,
        input_tokens        bigint NOT NULL,
        cached_input_tokens bigint NOT NULL,
        output_tokens       bigint NOT NULL,
        cost                numeric(38,18) NOT NULL,
        PRIMARY KEY (account_id, hour, model_id, rate_card_version)
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE usage_rollups, rejected_events, usage_events, ledger_entries, api_keys,
        account_balances, accounts, rate_card_prices, rate_card_versions, model_aliases, models;
      DROP FUNCTION forbid_change();
    `);
  }
}
