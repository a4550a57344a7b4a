import { type DynamicModule, Module } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { PortalSessionsController } from './portal-sessions.controller.js';
import { PortalSessionsService } from './portal-sessions.service.js';

/** POST /v1/accounts/{id}/portal-sessions: links that open the customer portal without a key. */
@Module({})
export class PortalSessionsModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: PortalSessionsModule,
      controllers: [PortalSessionsController],
      providers: [{ provide: APP_CONFIG, useValue: config }, PortalSessionsService],
    };
  }
}
