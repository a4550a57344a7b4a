import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import type { AppConfig } from '@app/config';
import { whenPostgresAnswers } from './connect.js';
import { createDataSource } from './data-source.js';
import { ExportsService } from './exports.service.js';
import { InvoicingService } from './invoicing.service.js';
import { ReconciliationService } from './reconciliation.service.js';
import { PricingContextCache } from './pricing-context.cache.js';
import { InvoicesRepository } from './repositories/invoices.repository.js';
import { AccountsRepository } from './repositories/accounts.repository.js';
import { ApiKeysRepository } from './repositories/api-keys.repository.js';
import { CatalogRepository } from './repositories/catalog.repository.js';
import { LedgerRepository } from './repositories/ledger.repository.js';
import { PortalSessionsRepository } from './repositories/portal-sessions.repository.js';
import { UsageRepository } from './repositories/usage.repository.js';
import { UsageReadsRepository } from './repositories/usage-reads.repository.js';
import { GrantsRepository } from './repositories/grants.repository.js';
import { GrantsService } from './grants.service.js';
import { CreditLiabilityService } from './credit-liability.service.js';
import { GrantAllocationsExport } from './grant-allocations.export.js';
import { HoldsRepository } from './repositories/holds.repository.js';
import { BalancesRepository } from './repositories/balances.repository.js';
import { HoldsService } from './holds.service.js';
import { BillingSettingsRepository } from './repositories/billing-settings.repository.js';
import { WebhookEndpointsRepository } from './repositories/webhook-endpoints.repository.js';

const repositories = [AccountsRepository, ApiKeysRepository, CatalogRepository, LedgerRepository, UsageRepository, UsageReadsRepository, PricingContextCache, InvoicesRepository, InvoicingService, ExportsService, ReconciliationService, GrantsRepository, GrantsService, CreditLiabilityService, GrantAllocationsExport, HoldsRepository, HoldsService, BalancesRepository, PortalSessionsRepository, BillingSettingsRepository, WebhookEndpointsRepository];

export interface DbModuleOptions {
  poolSize?: number;
  applicationName?: string;
  /** How long to wait at start for a Postgres that does not answer yet; forever by default. */
  connectFor?: number;
}

/**
 * The DataSource and every repository, shared by the API and the worker. At start, a Postgres that
 * is not up yet is waited for (with backoff, one log line per wait) rather than fatal: `npm start`
 * or a host reboot may bring the processes up before the database.
 */
@Module({})
export class DbModule {
  static forRoot(config: AppConfig, options: DbModuleOptions = {}): DynamicModule {
    const logger = new Logger('Database');
    return {
      module: DbModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          // Retrying is done here, with backoff; TypeORM's own retry (fixed delay) stays off.
          useFactory: () => ({ type: 'postgres', toRetry: () => false }),
          dataSourceFactory: () =>
            whenPostgresAnswers(
              () => createDataSource({ url: config.DATABASE_URL, poolSize: options.poolSize, applicationName: options.applicationName }).initialize(),
              { onWait: (message) => logger.warn(message), giveUpAfterMs: options.connectFor },
            ),
        }),
      ],
      providers: repositories,
      exports: repositories,
    };
  }
}
