import { HttpStatus, Injectable } from '@nestjs/common';
import { Money, checkUsageEvent, formatMoney, isPlainObject, rejection, type Rejection } from '@app/billing';
import { AccountsRepository, PricingContextCache, UsageReadsRepository, UsageRepository, type PricedEventRow, type RejectedEventRow } from '@app/db';
import { MAX_BATCH_EVENTS, QueueUnavailableError, UsageProducer, type UsageBatchJobData } from '@app/queue';
import { type Page, decodeCursor, parseRange, toPage } from '../common/pagination.js';
import { ProblemException, badRequest, notFound } from '../common/problem.js';
import type { IngestResponse, RejectedEventResponse, RejectedEventsQuery, UsageEventResponse, UsageSeriesQuery, UsageSeriesResponse } from './usage.dto.js';

const MAX_BUCKETS = { hour: 24 * 31, day: 366 * 5, month: 12 * 100 } as const;
const HOUR_MS = 3_600_000;

/** Tokens sums over a range of rollups stay far below 2^53; counts go out as JSON numbers. */
const count = (value: string) => Number(value);

@Injectable()
export class UsageService {
  constructor(
    private readonly pricing: PricingContextCache,
    private readonly usage: UsageRepository,
    private readonly reads: UsageReadsRepository,
    private readonly accounts: AccountsRepository,
    private readonly producer: UsageProducer,
  ) {}

  /**
   * Validates every event now (so the gateway learns at once what will never be billed), records
   * the rejections, and puts the rest on the queue as one batch job; the worker validates again.
   */
  async ingest(body: unknown): Promise<IngestResponse> {
    const events = isPlainObject(body) ? body.events : undefined;
    if (!Array.isArray(events) || events.length === 0 || events.length > MAX_BATCH_EVENTS) {
      throw badRequest(`The body is { "events": [...] } with 1 to ${MAX_BATCH_EVENTS} usage events.`, [
        { field: 'events', message: `must be an array of 1 to ${MAX_BATCH_EVENTS} events` },
      ]);
    }
    const context = await this.pricing.get();
    const now = new Date();
    const checked = events.map((raw) => ({ raw, result: checkUsageEvent(raw, { ...context, now }) }));
    const known = await this.accounts.existing([...new Set(checked.flatMap((c) => (c.result.ok ? [c.result.accountId] : [])))]);

    const accepted: unknown[] = [];
    const rejected: IngestResponse['rejected'] = [];
    const records: Rejection[] = [];
    checked.forEach(({ raw, result }, index) => {
      const refused = !result.ok
        ? { reason: result.reason, detail: result.detail, eventId: result.eventId }
        : !known.has(result.accountId)
          ? { reason: 'unknown_account' as const, detail: `No account ${result.accountId}.`, eventId: result.eventId }
          : null;
      if (!refused) return void accepted.push(raw);
      rejected.push({ index, event_id: refused.eventId, reason: refused.reason, detail: refused.detail });
      records.push(rejection(raw, refused.reason, refused.detail));
    });

    await this.usage.recordRejections(records, 'http');
    if (accepted.length) await this.enqueue({ events: accepted });
    return { accepted: accepted.length, rejected };
  }

  async event(eventId: string): Promise<UsageEventResponse> {
    const priced = await this.reads.pricedEvent(eventId);
    if (priced) return toPricedEvent(priced);
    const [latest] = await this.reads.rejectionsOf(eventId, 1);
    if (latest) return toRejectedEvent(eventId, latest);
    throw notFound(`No usage event ${eventId} was received.`);
  }

  async rejectedEvents(query: RejectedEventsQuery): Promise<Page<RejectedEventResponse>> {
    const { from, to } = parseRange(query);
    const before = decodeCursor(query.cursor);
    const rows = await this.reads.rejected({ from, to, reason: query.reason, before, limit: query.limit + 1 });
    return toPage(rows, query.limit, toRejection, (row) => row.rejection_id);
  }

  async series(accountId: string, query: UsageSeriesQuery): Promise<UsageSeriesResponse> {
    const now = new Date();
    const monthStart = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
    const nextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
    const range = parseRange(query);
    const from = range.from ?? (range.to && range.to <= monthStart ? new Date(range.to.getTime() - 31 * 24 * HOUR_MS) : monthStart);
    const to = range.to ?? (range.from && range.from >= nextMonth ? new Date(range.from.getTime() + 31 * 24 * HOUR_MS) : nextMonth);
    for (const [field, value] of [['from', from], ['to', to]] as const) {
      if (value.getTime() % HOUR_MS !== 0) {
        throw badRequest(`${field} must fall on a whole UTC hour: usage is kept per hour.`, [{ field, message: 'not on a whole hour' }]);
      }
    }
    if (from >= to) throw badRequest('from must be before to.', [{ field: 'from', message: 'not before to' }]);
    const buckets = bucketCount(from, to, query.granularity);
    if (buckets > MAX_BUCKETS[query.granularity]) {
      throw badRequest(`That range has ${buckets} ${query.granularity}s; at most ${MAX_BUCKETS[query.granularity]} at this granularity.`, [
        { field: 'granularity', message: 'range too long for this granularity' },
      ]);
    }
    if (!(await this.accounts.exists(accountId))) throw notFound(`No account ${accountId}.`);
    const rows = await this.reads.series(accountId, from, to, query.granularity);
    return {
      account_id: accountId,
      granularity: query.granularity,
      from: from.toISOString(),
      to: to.toISOString(),
      data: rows.map((r) => ({
        period_start: new Date(r.period_start).toISOString(),
        model: r.model,
        requests: count(r.requests),
        input_tokens: count(r.input_tokens),
        cached_input_tokens: count(r.cached_input_tokens),
        output_tokens: count(r.output_tokens),
        cost: formatMoney(new Money(r.cost)),
      })),
    };
  }

  /**
   * Redis down must not hang the gateway's request: answer 503 at once and let it retry (redelivery
   * is harmless). The producer keeps nothing of a refused batch, so it never lands later on its own.
   */
  private async enqueue(data: UsageBatchJobData): Promise<void> {
    try {
      await this.producer.addBatch(data);
    } catch (error) {
      if (!(error instanceof QueueUnavailableError)) throw error;
      throw new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, 'queue-unavailable', 'The usage queue is unavailable; nothing was enqueued: retry the request.', undefined, {
        'Retry-After': '5',
      });
    }
  }
}

function bucketCount(from: Date, to: Date, granularity: 'hour' | 'day' | 'month'): number {
  if (granularity === 'hour') return Math.ceil((to.getTime() - from.getTime()) / HOUR_MS);
  if (granularity === 'day') return Math.ceil((to.getTime() - from.getTime()) / (24 * HOUR_MS));
  return (to.getUTCFullYear() - from.getUTCFullYear()) * 12 + to.getUTCMonth() - from.getUTCMonth() + 1;
}

function toPricedEvent(row: PricedEventRow): UsageEventResponse {
  return {
    event_id: row.event_id,
    status: 'priced',
    account_id: row.account_id,
    model: row.model_id,
    endpoint: row.endpoint,
    occurred_at: row.occurred_at.toISOString(),
    tokens: { input: row.input_tokens, cached_input: row.cached_input_tokens, output: row.output_tokens },
    cache_reported: row.cache_reported,
    cost: formatMoney(new Money(row.cost)),
    rate_card_version: row.rate_card_version,
    ledger_entry_id: row.ledger_entry_id,
    hold_id: row.hold_id,
    received_at: row.received_at.toISOString(),
  };
}

function toRejectedEvent(eventId: string, row: RejectedEventRow): UsageEventResponse {
  const payload = isPlainObject(row.payload) ? row.payload : {};
  return {
    event_id: eventId,
    status: 'rejected',
    account_id: row.account_id,
    model: typeof payload.model === 'string' ? payload.model : null,
    tokens: null,
    cost: null,
    rate_card_version: null,
    reason: row.reason,
    detail: row.detail,
    received_at: row.received_at.toISOString(),
  };
}

function toRejection(row: RejectedEventRow): RejectedEventResponse {
  return { ...row, received_at: row.received_at.toISOString() };
}
