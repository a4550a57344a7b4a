import { Body, Controller, Get, Param, Put } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { AccountReadable, AdminOnly } from '../auth/auth.decorators.js';
import { ApiProblem } from '../docs/problems.js';
import { BillingSettingsResponse, PutBillingSettingsDto } from './billing-settings.dto.js';
import { BillingSettingsService } from './billing-settings.service.js';

const noAccount = ApiProblem(404, 'no such account', { detail: 'No account acme-corp.' });

@ApiTags('accounts')
@Controller('v1/accounts')
export class BillingSettingsController {
  constructor(private readonly settings: BillingSettingsService) {}

  @Put(':id/billing-settings')
  @AdminOnly()
  @ApiBody({ type: PutBillingSettingsDto })
  @ApiOkResponse({ type: BillingSettingsResponse, description: 'the settings now: fields left out are unchanged, null turns one off' })
  @ApiProblem(400, 'the body is not a JSON object', { errors: [{ field: 'body', message: 'must be a JSON object' }] })
  @noAccount
  @ApiProblem(422, 'a threshold that is not a decimal string or is negative, more than 18 decimals or 12 integer digits; an auto-recharge target_balance that is not above its threshold', {
    detail: 'The billing settings are not valid: auto_recharge.target_balance must be above auto_recharge.threshold',
    errors: [{ field: 'auto_recharge.target_balance', message: 'must be above auto_recharge.threshold' }],
  })
  put(@Param('id') id: string, @Body() body: PutBillingSettingsDto) {
    return this.settings.put(id, body);
  }

  @Get(':id/billing-settings')
  @AccountReadable()
  @ApiOkResponse({ type: BillingSettingsResponse })
  @noAccount
  get(@Param('id') id: string) {
    return this.settings.get(id);
  }
}
