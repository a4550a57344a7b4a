import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LoggerModule, type Params } from 'nestjs-pino';
import { levels } from 'pino';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { APP_CONFIG, type AppConfig, pinoHttpTo } from '@app/config';
import { DbModule } from '@app/db';
import { QueueModule } from '@app/queue';
import { AccountsController } from './accounts/accounts.controller.js';
import { AccountsService } from './accounts/accounts.service.js';
import { AccountExportsModule } from './account-exports/account-exports.module.js';
import { AuthGuard } from './auth/auth.guard.js';
import { RateLimitGuard } from './auth/rate-limit.guard.js';
import { ProblemFilter } from './common/problem.filter.js';
import { FinanceController } from './finance/finance.controller.js';
import { GrantsController } from './grants/grants.controller.js';
import { GrantsApiService } from './grants/grants.service.js';
import { HoldsController } from './holds/holds.controller.js';
import { HoldsApiService } from './holds/holds.service.js';
import { ReportsController } from './reports/reports.controller.js';
import { ReportsService } from './reports/reports.service.js';
import { HealthController } from './health/health.controller.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsService } from './metrics/metrics.service.js';
import { PricingController } from './pricing/pricing.controller.js';
import { PricingService } from './pricing/pricing.service.js';
import { PortalSessionsModule } from './portal-sessions/portal-sessions.module.js';
import { InvoicesController } from './invoices/invoices.controller.js';
import { InvoicesService } from './invoices/invoices.service.js';
import { UsageController } from './usage/usage.controller.js';
import { UsageService } from './usage/usage.service.js';
import { BillingSettingsController } from './billing-settings/billing-settings.controller.js';
import { BillingSettingsService } from './billing-settings/billing-settings.service.js';
import { WebhooksModule } from './webhooks/webhooks.module.js';

/** Whether pino writes info lines (the request lines) at this level ('silent' is no level: it writes none). */
const writesRequestLines = (level: AppConfig['LOG_LEVEL']) => level !== 'silent' && levels.values[level] <= levels.values.info;

/**
 * The API's pino settings: for its request logs and for Nest's own lines, from the first one on
 * (readable lines in a terminal outside production, JSON lines everywhere else).
 */
export async function apiLogging(config: AppConfig): Promise<Params> {
  return {
    // pino-http binds a child logger carrying the serialized request (headers redacted) to every
    // request, whatever the level, and nestjs-pino runs each request in an async context for it.
    // Its lines are info, so above info it is not mounted at all (docs/operations.md, Logs); a
    // warning or error logged inside a request then carries no req.
    ...(writesRequestLines(config.LOG_LEVEL) ? {} : { forRoutes: [] }),
    pinoHttp: await pinoHttpTo({
      name: 'api',
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization'],
      // Under Fastify's middleware runner req.url is the path below the mount point; originalUrl is the request's.
      autoLogging: { ignore: (req: IncomingMessage & { originalUrl?: string }) => ['/health', '/metrics'].includes(req.originalUrl ?? req.url ?? '') },
      // What a readable line shows of a request (the JSON lines keep req and res whole).
      customSuccessMessage: (req: IncomingMessage, res: ServerResponse, ms: number) => `${req.method} ${req.url} ${res.statusCode} ${Math.round(ms)} ms`,
      customErrorMessage: (req: IncomingMessage, res: ServerResponse, error: Error) => `${req.method} ${req.url} ${res.statusCode}: ${error.message}`,
    }),
  };
}

@Module({})
export class ApiModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        LoggerModule.forRootAsync({ useFactory: () => apiLogging(config) }),
        DbModule.forRoot(config, { poolSize: 10, applicationName: 'billing-api' }),
        QueueModule.forRoot(config),
        AccountExportsModule,
        PortalSessionsModule.forRoot(config),
        WebhooksModule.forRoot(config),
      ],
      controllers: [HealthController, MetricsController, PricingController, AccountsController, UsageController, InvoicesController, FinanceController, GrantsController, ReportsController, HoldsController, BillingSettingsController],
      providers: [
        { provide: APP_CONFIG, useValue: config },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_FILTER, useClass: ProblemFilter },
        AccountsService,
        PricingService,
        UsageService,
        InvoicesService,
        MetricsService,
        GrantsApiService,
        ReportsService,
        HoldsApiService,
        BillingSettingsService,
      ],
    };
  }
}
