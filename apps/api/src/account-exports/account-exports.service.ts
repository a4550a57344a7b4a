import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { AccountsRepository, ExportsService } from '@app/db';
import { type TimeRangeQuery, parseRange } from '../common/pagination.js';
import { notFound } from '../common/problem.js';

@Injectable()
export class AccountExportsService {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly exports: ExportsService,
  ) {}

  /** The finance usage export (one row per priced event, occurred_at in [from, to)), this account's rows only. */
  async usageCsv(accountId: string, query: TimeRangeQuery): Promise<Readable> {
    const range = parseRange(query);
    if (!(await this.accounts.exists(accountId))) throw notFound(`No account ${accountId}.`);
    return this.exports.csv('usage', { ...range, accountId });
  }
}
