import { Injectable } from '@nestjs/common';
import { Money, PRICE_SCALE, formatMoney, parseDecimal, parseTimestamp, resolveModel } from '@app/billing';
import { CatalogRepository, RATE_CARD_MIN_LEAD_MS, toModelSpec, type PriceRow, type RateCardRow } from '@app/db';
import { type Page, type PageQuery, decodeCursor, toPage } from '../common/pagination.js';
import { type FieldError, notFound, unprocessable } from '../common/problem.js';
import type { CreateRateCardDto, ModelPriceResponse, PricingResponse, RateCardResponse } from './pricing.dto.js';

const PRICE_FIELDS = ['input_per_million', 'output_per_million', 'cached_input_per_million'] as const;

@Injectable()
export class PricingService {
  constructor(private readonly catalog: CatalogRepository) {}

  /** What the public pricing page shows: every model with the prices in effect now. */
  async current(): Promise<PricingResponse> {
    const [models, card] = await Promise.all([this.catalog.models(), this.catalog.rateCardAt()]);
    if (!card) throw notFound('No rate card is in effect yet.');
    const prices = new Map(card.prices.map((p) => [p.model_id, toPrice(p)]));
    return {
      currency: card.currency,
      rate_card_version: card.version,
      effective_from: card.effective_from.toISOString(),
      models: models
        .filter((m) => prices.has(m.model_id))
        .map((m) => ({
          ...prices.get(m.model_id)!,
          display_name: m.display_name,
          aliases: m.aliases,
          context_window: m.context_window,
          max_output_tokens: m.max_output_tokens,
        })),
    };
  }

  async list(query: PageQuery): Promise<Page<RateCardResponse>> {
    const after = decodeCursor(query.cursor, /^\d{1,9}$/);
    const rows = await this.catalog.rateCards({ afterVersion: after ? Number(after) : 0, limit: query.limit + 1 });
    return toPage(rows, query.limit, toRateCard, (row) => row.version);
  }

  async get(version: number): Promise<RateCardResponse> {
    const row = await this.catalog.rateCard(version);
    if (!row) throw notFound(`No rate card version ${version}.`);
    return toRateCard(row);
  }

  /** A new immutable version: a complete price list, effective in the future, after the latest version. */
  async create(dto: CreateRateCardDto): Promise<RateCardResponse> {
    const errors: FieldError[] = [];
    const effectiveFrom = parseTimestamp(dto.effective_from);
    if (!effectiveFrom) errors.push({ field: 'effective_from', message: 'must be an ISO-8601 instant with an offset, e.g. 2027-01-01T00:00:00Z' });

    const models = await this.catalog.models();
    const specs = models.map(toModelSpec);
    const prices = new Map<string, PriceRow>();
    dto.prices.forEach((price, index) => {
      const model = resolveModel(specs, price.model);
      if (!model) return void errors.push({ field: `prices[${index}].model`, message: `unknown model ${price.model}` });
      if (prices.has(model.id)) return void errors.push({ field: `prices[${index}].model`, message: `${model.id} is priced twice` });
      const row: PriceRow = { model_id: model.id, input_per_million: '', output_per_million: '', cached_input_per_million: '' };
      for (const field of PRICE_FIELDS) {
        const parsed = parseDecimal(price[field], { field, maxScale: PRICE_SCALE, maxIntegerDigits: 12, allowZero: true });
        if (parsed.ok) row[field] = formatMoney(parsed.value);
        else errors.push({ field: `prices[${index}].${field}`, message: parsed.message });
      }
      prices.set(model.id, row);
    });
    for (const model of models) {
      if (!prices.has(model.model_id) && !errors.some((e) => e.field.endsWith('.model'))) {
        errors.push({ field: 'prices', message: `no price for ${model.model_id}: a version prices every model in the catalog` });
      }
    }
    if (errors.length) throw unprocessable('The rate card is not valid.', errors);

    const created = await this.catalog.createRateCard({ effectiveFrom: effectiveFrom!, minLeadMs: RATE_CARD_MIN_LEAD_MS, prices: [...prices.values()] });
    if (!created) {
      throw unprocessable(
        `effective_from must be at least ${RATE_CARD_MIN_LEAD_MS / 60_000} minutes ahead and after the latest version's; a version in effect never changes.`,
        [{ field: 'effective_from', message: 'too soon, in the past, or not after the latest version' }],
      );
    }
    return toRateCard(created);
  }
}

function toPrice(row: PriceRow): ModelPriceResponse {
  return {
    model: row.model_id,
    input_per_million: formatMoney(new Money(row.input_per_million)),
    output_per_million: formatMoney(new Money(row.output_per_million)),
    cached_input_per_million: formatMoney(new Money(row.cached_input_per_million)),
  };
}

function toRateCard(row: RateCardRow): RateCardResponse {
  return {
    version: row.version,
    effective_from: new Date(row.effective_from).toISOString(),
    currency: row.currency,
    created_at: new Date(row.created_at).toISOString(),
    prices: row.prices.map(toPrice),
  };
}
