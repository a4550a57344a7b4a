import { HttpStatus, Injectable } from '@nestjs/common';
import { type Money, formatMoney, holdStatus, parseHoldRequest } from '@app/billing';
import { AccountsRepository, type HoldRecord, HoldsService, PricingContextCache } from '@app/db';
import type { Principal } from '../auth/auth.decorators.js';
import { decodeCursor, type Page, toPage } from '../common/pagination.js';
import { ProblemException, badRequest, forbidden, notFound, unprocessable } from '../common/problem.js';
import type { HoldResponse, HoldsQuery } from './holds.dto.js';


@Injectable()
export class HoldsApiService {
  constructor(
    private readonly holds: HoldsService,
    private readonly pricing: PricingContextCache,
    private readonly accounts: AccountsRepository,
  ) {}

  /** 201 with a new hold, 200 with the same one again; 402 when it does not fit in what is available. */
  async authorize(accountId: string, body: unknown): Promise<{ created: boolean; hold: HoldResponse }> {
    const parsed = parseHoldRequest(body, { ...(await this.pricing.get()), now: new Date() });
    if (!parsed.ok) {
      const detail = `The hold is not valid: ${parsed.errors.map((e) => `${e.field} ${e.message}`).join('; ')}.`;
      throw parsed.status === 400 ? badRequest(detail, parsed.errors) : unprocessable(detail, parsed.errors);
    }
    const result = await this.holds.authorize(accountId, parsed.request);
    switch (result.outcome) {
      case 'held':
      case 'existing':
        return { created: result.outcome === 'held', hold: toHoldResponse(result.hold, result.available ?? undefined) };
      case 'declined':
        throw new ProblemException(
          HttpStatus.PAYMENT_REQUIRED,
          'insufficient-funds',
          `The account has ${formatMoney(result.available)} available; the hold asks for ${formatMoney(result.requested)}. Nothing was held.`,
          undefined,
          {},
          { available: formatMoney(result.available), requested: formatMoney(result.requested) },
        );
      case 'conflict':
        throw new ProblemException(HttpStatus.CONFLICT, 'hold-id-reused', `Hold ${result.holdId} already exists with another body; nothing was held.`);
      case 'unknown_account':
        throw notFound(`No account ${accountId}.`);
    }
  }

  async get(principal: Principal, holdId: string): Promise<HoldResponse> {
    const hold = await this.holds.find(holdId);
    // An account key learns nothing of holds that are not its own, not even whether they exist (as for invoices).
    if (principal.role !== 'admin' && principal.accountId !== hold?.accountId) throw forbidden();
    if (!hold) throw notFound(`No hold ${holdId}.`);
    return toHoldResponse(hold);
  }

  async release(holdId: string): Promise<HoldResponse> {
    const hold = await this.holds.release(holdId);
    if (!hold) throw notFound(`No hold ${holdId}.`);
    return toHoldResponse(hold);
  }

  /** Newest first; the cursor is the last hold's (created_at, hold_id). */
  async list(accountId: string, query: HoldsQuery): Promise<Page<HoldResponse>> {
    const before = decodeCursor(query.cursor);
    if (!(await this.accounts.exists(accountId))) throw notFound(`No account ${accountId}.`);
    const rows = await this.holds.list(accountId, { status: query.status, before, limit: query.limit + 1 });
    return toPage(rows, query.limit, (h) => toHoldResponse(h), (h) => h.seq);
  }
}

export function toHoldResponse(hold: HoldRecord, available?: Money): HoldResponse {
  return {
    hold_id: hold.holdId,
    account_id: hold.accountId,
    amount: formatMoney(hold.amount),
    status: holdStatus(hold, new Date()),
    created_at: hold.createdAt.toISOString(),
    expires_at: hold.expiresAt.toISOString(),
    ...(available ? { available: formatMoney(available) } : {}),
    settled_amount: hold.settledAmount ? formatMoney(hold.settledAmount) : null,
    settled_event_id: hold.settledEventId,
    ended_at: hold.endedAt?.toISOString() ?? null,
  };
}
