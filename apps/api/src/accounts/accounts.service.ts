import { HttpStatus, Injectable } from '@nestjs/common';
import { createHash, randomBytes } from 'node:crypto';
import { DEFAULT_GRANT_PRIORITY, availableOf, LEDGER_SCALE, Money, canonicalJson, formatMoney, grantIdOf, parseDecimal, parseGrantTerms } from '@app/billing';
import { AccountsRepository, ApiKeysRepository, BalancesRepository, LedgerRepository, accountGrants, type AccountRow, type LedgerRow } from '@app/db';
import { type Page, type TimeRangePageQuery, decodeCursor, parseRange, toPage } from '../common/pagination.js';
import { ProblemException, badRequest, conflict, notFound, unprocessable } from '../common/problem.js';
import { newApiKey } from '../auth/api-keys.js';
import type { AccountResponse, ApiKeyResponse, BalanceResponse, CreateAccountDto, CreateCreditDto, LedgerEntryResponse } from './accounts.dto.js';

/** A credit or adjustment larger than this is refused as a typo (a trillion dollars). */
const MAX_CREDIT_INTEGER_DIGITS = 12;

const statusOf = (balance: string) => (new Money(balance).gt(0) ? 'active' : 'depleted');

@Injectable()
export class AccountsService {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly keys: ApiKeysRepository,
    private readonly ledger: LedgerRepository,
    private readonly balances: BalancesRepository,
  ) {}

  async create(dto: CreateAccountDto): Promise<AccountResponse> {
    const accountId = dto.account_id ?? `acct_${randomBytes(10).toString('hex')}`;
    const row = await this.accounts.create(accountId, dto.name);
    if (!row) throw conflict('account-exists', `Account ${accountId} already exists.`);
    return toAccount(row);
  }

  async get(accountId: string): Promise<AccountResponse> {
    return toAccount(await this.require(accountId));
  }

  async balance(accountId: string): Promise<BalanceResponse> {
    const snapshot = await this.balances.read(accountId);
    if (!snapshot) throw notFound(`No account ${accountId}.`);
    const { account, held, ledger } = snapshot;
    const next = accountGrants(ledger).nextExpiry;
    return {
      account_id: account.account_id,
      balance: formatMoney(ledger.balance),
      currency: account.currency.trim(),
      status: statusOf(ledger.balance.toFixed()),
      last_usage_at: account.last_usage_at?.toISOString() ?? null,
      as_of: account.as_of.toISOString(),
      next_expiry: next ? { at: next.at.toISOString(), amount: formatMoney(next.amount) } : null,
      held: formatMoney(held),
      available: formatMoney(availableOf(ledger.balance, held)),
    };
  }

  async createKey(accountId: string): Promise<ApiKeyResponse> {
    await this.require(accountId);
    const key = newApiKey();
    const row = await this.keys.insert(key.keyId, accountId, key.hash);
    return { key_id: row.key_id, secret: key.secret, account_id: accountId, created_at: row.created_at.toISOString() };
  }

  async listKeys(accountId: string) {
    await this.require(accountId);
    const rows = await this.keys.list(accountId);
    return {
      data: rows.map((r) => ({ key_id: r.key_id, account_id: accountId, created_at: r.created_at.toISOString(), revoked_at: r.revoked_at?.toISOString() ?? null })),
      next_cursor: null,
    };
  }

  async revokeKey(accountId: string, keyId: string): Promise<void> {
    await this.require(accountId);
    if (!(await this.keys.revoke(accountId, keyId))) throw notFound(`Account ${accountId} has no key ${keyId}.`);
  }

  /**
   * Credits once per Idempotency-Key: a replay of the same request returns the same entry
   * (created=false), the same key with another request is a 409.
   */
  async credit(accountId: string, idempotencyKey: string | undefined, dto: CreateCreditDto): Promise<{ created: boolean; entry: LedgerEntryResponse }> {
    if (!idempotencyKey || !/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
      throw badRequest('An Idempotency-Key header (1-255 visible ASCII characters) is required.', [
        { field: 'Idempotency-Key', message: 'required' },
      ]);
    }
    const adjustment = dto.kind === 'adjustment';
    const parsed = parseDecimal(dto.amount, {
      field: 'amount',
      maxScale: LEDGER_SCALE,
      maxIntegerDigits: MAX_CREDIT_INTEGER_DIGITS,
      allowNegative: adjustment,
      allowZero: false,
    });
    if (!parsed.ok) throw unprocessable(parsed.message, [{ field: 'amount', message: parsed.message }]);
    const terms = parseGrantTerms(dto, { now: new Date(), grant: parsed.value.gt(0) });
    if (!terms.ok) throw unprocessable(`The credit is not valid: ${terms.errors.map((e) => `${e.field} ${e.message}`).join('; ')}.`, terms.errors);
    await this.require(accountId);

    const amount = formatMoney(parsed.value);
    const reference = dto.reference ?? null;
    const { priority, expiresAt } = terms.terms;
    // A grant's terms are part of the request only when they differ from the defaults, so a
    // request without them hashes as it always did (replays of older requests still match).
    const requestHash = createHash('sha256')
      .update(
        canonicalJson({
          amount,
          kind: dto.kind,
          reference,
          ...(expiresAt ? { expires_at: expiresAt.toISOString() } : {}),
          ...(priority !== DEFAULT_GRANT_PRIORITY ? { priority } : {}),
        }),
      )
      .digest('hex');
    const { created, entry } = await this.ledger.credit({
      accountId,
      kind: adjustment ? 'adjustment' : 'credit',
      creditKind: dto.kind,
      amount,
      reference,
      idempotencyKey,
      requestHash,
      priority,
      expiresAt,
    });
    if (!created && entry.request_hash !== requestHash) {
      throw new ProblemException(
        HttpStatus.CONFLICT,
        'idempotency-key-reused',
        'This Idempotency-Key was already used for a different request; nothing was credited.',
      );
    }
    return { created, entry: toLedgerEntry(entry) };
  }

  async ledgerPage(accountId: string, query: TimeRangePageQuery): Promise<Page<LedgerEntryResponse>> {
    const { from, to } = parseRange(query);
    const before = decodeCursor(query.cursor);
    await this.require(accountId);
    const rows = await this.ledger.list({ accountId, from, to, before, limit: query.limit + 1 });
    return toPage(rows, query.limit, toLedgerEntry, (row) => row.entry_id);
  }

  private async require(accountId: string): Promise<AccountRow> {
    const row = await this.accounts.find(accountId);
    if (!row) throw notFound(`No account ${accountId}.`);
    return row;
  }
}

function toAccount(row: AccountRow): AccountResponse {
  return {
    account_id: row.account_id,
    name: row.name,
    currency: row.currency.trim(),
    balance: formatMoney(new Money(row.balance)),
    status: statusOf(row.balance),
    created_at: row.created_at.toISOString(),
  };
}

export function toLedgerEntry(row: LedgerRow): LedgerEntryResponse {
  return {
    entry_id: row.entry_id,
    account_id: row.account_id,
    kind: row.kind,
    credit_kind: row.credit_kind,
    amount: formatMoney(new Money(row.amount)),
    balance_after: formatMoney(new Money(row.balance_after)),
    created_at: row.created_at.toISOString(),
    reference: row.reference,
    event_count: row.event_count,
    grant_id: grantOf(row),
  };
}

/** A positive credit is its own grant; an expiry or a void names the grant it removed from. */
function grantOf(row: LedgerRow): string | null {
  if (row.kind === 'expiry' || row.kind === 'void') return row.reference;
  if ((row.kind === 'credit' || row.kind === 'adjustment') && new Money(row.amount).gt(0)) return grantIdOf(row.entry_id);
  return null;
}
