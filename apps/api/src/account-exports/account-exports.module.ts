import { Module } from '@nestjs/common';
import { AccountExportsController } from './account-exports.controller.js';
import { AccountExportsService } from './account-exports.service.js';

/** GET /v1/accounts/{id}/exports/usage.csv: a customer's own usage, as the finance export streams it. */
@Module({ controllers: [AccountExportsController], providers: [AccountExportsService] })
export class AccountExportsModule {}
