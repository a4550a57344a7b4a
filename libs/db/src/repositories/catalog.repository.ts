import { Injectable } from '@nestjs/common';
import { DataSource, type EntityManager } from 'typeorm';
import { Money, type ModelSpec, type RateCardVersion } from '@app/billing';

export interface ModelRow {
  model_id: string;
  display_name: string;
  context_window: number;
  max_output_tokens: number;
  aliases: string[];
}

export interface PriceRow {
  model_id: string;
  input_per_million: string;
  output_per_million: string;
  cached_input_per_million: string;
}

export interface RateCardRow {
  version: number;
  effective_from: Date;
  currency: string;
  created_at: Date;
  prices: PriceRow[];
}

export interface NewRateCard {
  effectiveFrom: Date;
  /** How far ahead of the database's now effective_from must be. */
  minLeadMs: number;
  prices: PriceRow[];
}

const RATE_CARDS = `
  SELECT v.version, v.effective_from, v.currency, v.created_at,
    json_agg(json_build_object(
      'model_id', p.model_id,
      'input_per_million', p.input_per_million::text,
      'output_per_million', p.output_per_million::text,
      'cached_input_per_million', p.cached_input_per_million::text) ORDER BY p.model_id) AS prices
  FROM rate_card_versions v JOIN rate_card_prices p USING (version)`;

/** The model catalog and the versioned rate cards: data, never code. */
@Injectable()
export class CatalogRepository {
  constructor(private readonly db: DataSource) {}

  models(): Promise<ModelRow[]> {
    return this.db.query(
      `SELECT m.model_id, m.display_name, m.context_window, m.max_output_tokens,
         coalesce(array_agg(a.alias ORDER BY a.alias) FILTER (WHERE a.alias IS NOT NULL), '{}') AS aliases
       FROM models m LEFT JOIN model_aliases a USING (model_id)
       GROUP BY m.model_id ORDER BY m.model_id`,
    );
  }

  async rateCards(options: { afterVersion?: number; limit?: number } = {}): Promise<RateCardRow[]> {
    const rows = await this.db.query(
      `${RATE_CARDS} WHERE v.version > $1 GROUP BY v.version ORDER BY v.version LIMIT $2`,
      [options.afterVersion ?? 0, options.limit ?? 1_000_000],
    );
    return rows.map(mapRateCard);
  }

  async rateCard(version: number): Promise<RateCardRow | null> {
    const rows = await this.db.query(`${RATE_CARDS} WHERE v.version = $1 GROUP BY v.version`, [version]);
    return rows[0] ? mapRateCard(rows[0]) : null;
  }

  /** The version in effect at `at` (default: the database's now). */
  async rateCardAt(at?: Date): Promise<RateCardRow | null> {
    const rows = await this.db.query(
      `${RATE_CARDS} WHERE v.effective_from <= coalesce($1::timestamptz, now())
       GROUP BY v.version ORDER BY v.effective_from DESC LIMIT 1`,
      [at ?? null],
    );
    return rows[0] ? mapRateCard(rows[0]) : null;
  }

  /**
   * Appends the next version. The table lock serialises creators, so version numbers and
   * effective dates both rise. Returns null when effective_from is not after every existing
   * version's, or less than minLeadMs ahead (checked against the database clock inside the lock).
   */
  async createRateCard(card: NewRateCard): Promise<RateCardRow | null> {
    return this.db.transaction(async (tx: EntityManager) => {
      await tx.query('LOCK TABLE rate_card_versions IN SHARE ROW EXCLUSIVE MODE');
      const [next] = await tx.query(
        `SELECT coalesce(max(version), 0) + 1 AS version,
           $1::timestamptz >= now() + make_interval(secs => $2) AND $1::timestamptz > coalesce(max(effective_from), '-infinity') AS ok
         FROM rate_card_versions`,
        [card.effectiveFrom, card.minLeadMs / 1000],
      );
      if (!next.ok) return null;
      await tx.query('INSERT INTO rate_card_versions (version, effective_from) VALUES ($1, $2)', [
        next.version,
        card.effectiveFrom,
      ]);
      await tx.query(
        `INSERT INTO rate_card_prices (version, model_id, input_per_million, output_per_million, cached_input_per_million)
         SELECT $1, * FROM unnest($2::text[], $3::numeric[], $4::numeric[], $5::numeric[])`,
        [
          next.version,
          card.prices.map((p) => p.model_id),
          card.prices.map((p) => p.input_per_million),
          card.prices.map((p) => p.output_per_million),
          card.prices.map((p) => p.cached_input_per_million),
        ],
      );
      const [created] = await tx.query(`${RATE_CARDS} WHERE v.version = $1 GROUP BY v.version`, [next.version]);
      return mapRateCard(created);
    });
  }
}

/** A catalog row as the pure billing code takes it. */
export function toModelSpec(row: ModelRow): ModelSpec {
  return { id: row.model_id, aliases: row.aliases, contextWindow: row.context_window, maxOutputTokens: row.max_output_tokens };
}

/** A rate card version as the pure billing code takes it (prices exact, from their decimal text). */
export function toRateCardVersion(row: RateCardRow): RateCardVersion {
  const prices: RateCardVersion['prices'] = {};
  for (const p of row.prices) {
    prices[p.model_id] = {
      inputPerMillion: new Money(p.input_per_million),
      outputPerMillion: new Money(p.output_per_million),
      cachedInputPerMillion: new Money(p.cached_input_per_million),
    };
  }
  return { version: row.version, effectiveFrom: new Date(row.effective_from), prices };
}

function mapRateCard(row: { version: number; effective_from: Date; currency: string; created_at: Date; prices: PriceRow[] }): RateCardRow {
  return { ...row, currency: row.currency.trim() };
}
