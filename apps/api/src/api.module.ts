import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { LoggerModule, type Params } from 'nestjs-pino';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { DbModule } from '@app/db';
import { QueueModule } from '@app/queue';
import { AccountsController } from './accounts/accounts.controller.js';
import { AccountsService } from './accounts/accounts.service.js';
import { AuthGuard } from './auth/auth.guard.js';
import { RateLimitGuard } from './auth/rate-limit.guard.js';
import { ProblemFilter } from './common/problem.filter.js';
import { FinanceController } from './finance/finance.controller.js';
import { HealthController } from './health/health.controller.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsService } from './metrics/metrics.service.js';
import { PricingController } from './pricing/pricing.controller.js';
import { PricingService } from './pricing/pricing.service.js';
import { InvoicesController } from './invoices/invoices.controller.js';
import { InvoicesService } from './invoices/invoices.service.js';
import { UsageController } from './usage/usage.controller.js';
import { UsageService } from './usage/usage.service.js';

/** The API's pino settings: for its request logs and for Nest's own lines, from the first one on. */
export function apiLogging(config: AppConfig): Params {
  return {
    pinoHttp: {
      level: config.LOG_LEVEL,
      redact: ['req.headers.authorization'],
      autoLogging: { ignore: (req) => req.url === '/health' || req.url === '/metrics' },
    },
  };
}

@Module({})
export class ApiModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        LoggerModule.forRoot(apiLogging(config)),
        DbModule.forRoot(config, { poolSize: 10, applicationName: 'billing-api' }),
        QueueModule.forRoot(config),
      ],
      controllers: [HealthController, MetricsController, PricingController, AccountsController, UsageController, InvoicesController, FinanceController],
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
      ],
    };
  }
}
