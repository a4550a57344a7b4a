import { Body, Controller, Delete, Get, Headers, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { TimeRangePageQuery } from '../common/pagination.js';
import { AccountReadable, AdminOnly } from '../auth/auth.decorators.js';
import { ApiProblem } from '../docs/problems.js';
import { AccountsService } from './accounts.service.js';
import {
  AccountResponse,
  ApiKeyPage,
  ApiKeyResponse,
  BalanceResponse,
  CreateAccountDto,
  CreateCreditDto,
  LedgerEntryResponse,
  LedgerPage,
} from './accounts.dto.js';

const noAccount = ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' });

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @AdminOnly()
  @ApiCreatedResponse({ type: AccountResponse })
  @ApiProblem(400, 'name is missing or too long, or account_id is not 1-64 of A-Z a-z 0-9 _ . : -', { errors: [{ field: 'name', message: 'name must be a string' }] })
  @ApiProblem(409, 'an account with this account_id exists', { slug: 'account-exists', detail: 'Account acme-corp already exists.' })
  create(@Body() dto: CreateAccountDto) {
    return this.accounts.create(dto);
  }

  @Get(':id')
  @AccountReadable()
  @ApiOkResponse({ type: AccountResponse })
  @noAccount
  get(@Param('id') id: string) {
    return this.accounts.get(id);
  }

  @Get(':id/balance')
  @AccountReadable()
  @ApiOkResponse({ type: BalanceResponse })
  @noAccount
  balance(@Param('id') id: string) {
    return this.accounts.balance(id);
  }

  @Get(':id/ledger')
  @AccountReadable()
  @ApiOkResponse({ type: LedgerPage })
  @ApiProblem(400, 'limit, cursor, from or to is not valid, or from is after to', { errors: [{ field: 'from', message: 'from must be a valid ISO 8601 date string' }] })
  @noAccount
  ledger(@Param('id') id: string, @Query() query: TimeRangePageQuery) {
    return this.accounts.ledgerPage(id, query);
  }

  @Post(':id/api-keys')
  @AdminOnly()
  @ApiCreatedResponse({ type: ApiKeyResponse })
  @noAccount
  createKey(@Param('id') id: string) {
    return this.accounts.createKey(id);
  }

  @Get(':id/api-keys')
  @AdminOnly()
  @ApiOkResponse({ type: ApiKeyPage, description: 'key ids, never secrets' })
  @noAccount
  listKeys(@Param('id') id: string) {
    return this.accounts.listKeys(id);
  }

  @Delete(':id/api-keys/:key_id')
  @AdminOnly()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'revoked: the key is refused from now on' })
  @ApiProblem(404, 'no such account, or it has no such key', { detail: 'Account acme-corp has no key key_3f2a9c0d1e4b5a6f.' })
  revokeKey(@Param('id') id: string, @Param('key_id') keyId: string) {
    return this.accounts.revokeKey(id, keyId);
  }

  @Post(':id/credits')
  @AdminOnly()
  @HttpCode(HttpStatus.CREATED)
  @ApiHeader({ name: 'Idempotency-Key', required: true, description: 'A replay with the same key returns the same entry (200)' })
  @ApiCreatedResponse({ type: LedgerEntryResponse, description: 'credited' })
  @ApiOkResponse({ type: LedgerEntryResponse, description: 'replay of an earlier request with this key; nothing credited again' })
  @ApiProblem(400, 'the Idempotency-Key header is missing or not 1-255 visible ASCII characters, or a field is missing or of the wrong type', {
    detail: 'An Idempotency-Key header (1-255 visible ASCII characters) is required.',
    errors: [{ field: 'Idempotency-Key', message: 'required' }],
  })
  @noAccount
  @ApiProblem(409, 'this Idempotency-Key was used for a different request', {
    slug: 'idempotency-key-reused',
    detail: 'This Idempotency-Key was already used for a different request; nothing was credited.',
  })
  @ApiProblem(422, 'amount is not a decimal of at most 18 places and 12 integer digits, is zero, or is negative for another kind than adjustment; expires_at is not an instant with an offset, not in the future or more than 10 years ahead; priority is not a whole number 0-100; expires_at or priority on a negative adjustment', {
    detail: 'amount must be greater than zero.',
    errors: [{ field: 'amount', message: 'amount must be greater than zero.' }],
  })
  async credit(
    @Param('id') id: string,
    @Headers('idempotency-key') key: string | undefined,
    @Body() dto: CreateCreditDto,
    @Res({ passthrough: true }) response: FastifyReply,
  ) {
    const { created, entry } = await this.accounts.credit(id, key, dto);
    if (!created) response.status(HttpStatus.OK);
    return entry;
  }
}
