import { Injectable } from '@nestjs/common';
import { formatMoney } from '@app/billing';
import { GrantsService, type GrantView } from '@app/db';
import { type Page, decodeCursor, toPage } from '../common/pagination.js';
import { notFound } from '../common/problem.js';
import type { GrantPage, GrantResponse, GrantsQuery } from './grants.dto.js';

@Injectable()
export class GrantsApiService {
  constructor(private readonly grants: GrantsService) {}

  /** Newest first; the cursor is the last grant's entry id. */
  async list(accountId: string, query: GrantsQuery): Promise<GrantPage> {
    const state = await this.grants.ofAccount(accountId);
    if (!state) throw notFound(`No account ${accountId}.`);
    const before = decodeCursor(query.cursor);
    const rows = state.grants.filter((g) => (!query.status || g.status === query.status) && (before === undefined || BigInt(g.entryId) < BigInt(before)));
    return toPage(rows.slice(0, query.limit + 1), query.limit, toGrantResponse, (g) => g.entryId) as Page<GrantResponse>;
  }

  async void(accountId: string, grantId: string): Promise<GrantResponse> {
    return toGrantResponse(await this.grants.void(accountId, grantId));
  }
}

export function toGrantResponse(g: GrantView): GrantResponse {
  return {
    grant_id: g.grantId,
    account_id: g.accountId,
    credit_kind: g.creditKind,
    paid: g.paid,
    amount: formatMoney(g.amount),
    remaining: formatMoney(g.remaining),
    priority: g.priority,
    expires_at: g.expiresAt?.toISOString() ?? null,
    status: g.status,
    created_at: g.createdAt.toISOString(),
    entry_id: g.entryId,
    ended_at: g.endedAt?.toISOString() ?? null,
  };
}
