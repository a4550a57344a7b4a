import { Body, Controller, Delete, Get, Headers, HttpCode, HttpStatus, Param, Post, Query, Res } from '@nestjs/common';
import { ApiCreatedResponse, ApiHeader, ApiNoContentResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { TimeRangePageQuery } from '../common/pagination.js';
import { AccountReadable, AdminOnly } from '../auth/auth.decorators.js';
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

@ApiTags('accounts')
@Controller('v1/accounts')
export class AccountsController {
  constructor(private readonly accounts: AccountsService) {}

  @Post()
  @AdminOnly()
  @ApiCreatedResponse({ type: AccountResponse })
  create(@Body() dto: CreateAccountDto) {
    return this.accounts.create(dto);
  }

  @Get(':id')
  @AccountReadable()
  @ApiOkResponse({ type: AccountResponse })
  get(@Param('id') id: string) {
    return this.accounts.get(id);
  }

  @Get(':id/balance')
  @AccountReadable()
  @ApiOkResponse({ type: BalanceResponse })
  balance(@Param('id') id: string) {
    return this.accounts.balance(id);
  }

  @Get(':id/ledger')
  @AccountReadable()
  @ApiOkResponse({ type: LedgerPage })
  ledger(@Param('id') id: string, @Query() query: TimeRangePageQuery) {
    return this.accounts.ledgerPage(id, query);
  }

  @Post(':id/api-keys')
  @AdminOnly()
  @ApiCreatedResponse({ type: ApiKeyResponse })
  createKey(@Param('id') id: string) {
    return this.accounts.createKey(id);
  }

  @Get(':id/api-keys')
  @AdminOnly()
  @ApiOkResponse({ type: ApiKeyPage, description: 'key ids, never secrets' })
  listKeys(@Param('id') id: string) {
    return this.accounts.listKeys(id);
  }

  @Delete(':id/api-keys/:key_id')
  @AdminOnly()
  @HttpCode(HttpStatus.NO_CONTENT)
  @ApiNoContentResponse({ description: 'revoked: the key is refused from now on' })
  revokeKey(@Param('id') id: string, @Param('key_id') keyId: string) {
    return this.accounts.revokeKey(id, keyId);
  }

  @Post(':id/credits')
  @AdminOnly()
  @HttpCode(HttpStatus.CREATED)
  @ApiHeader({ name: 'Idempotency-Key', required: true, description: 'A replay with the same key returns the same entry (200)' })
  @ApiCreatedResponse({ type: LedgerEntryResponse, description: 'credited' })
  @ApiOkResponse({ type: LedgerEntryResponse, description: 'replay of an earlier request with this key; nothing credited again' })
  async credit(
    @Param('id') id: string,
    @Headers('idempotency-key') key: string | undefined,
    @Body() dto: CreateCreditDto,
    @Res({ passthrough: true }) response: Response,
  ) {
    const { created, entry } = await this.accounts.credit(id, key, dto);
    if (!created) response.status(HttpStatus.OK);
    return entry;
  }
}
