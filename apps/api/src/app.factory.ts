import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { AppConfig } from '@app/config';
import { ApiModule } from './api.module.js';
import { BODY_LIMIT, parsesJsonBody } from './common/json-body.js';
import { jsonDepthLimit } from './common/json-depth.js';
import { pathParamsPipe, validationPipe } from './common/validation.js';
import { openApiDocument } from './docs/openapi.js';
import { servePortal } from './portal/portal.static.js';

/** Builds the HTTP app exactly as production runs it; tests call this too. */
export async function createApiApp(config: AppConfig, options: { logger?: boolean } = {}): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config), {
    bufferLogs: true,
    bodyParser: false,
    logger: options.logger === false ? false : undefined,
  });
  if (options.logger !== false) app.useLogger(app.get(Logger));
  app.useBodyParser('json', { limit: BODY_LIMIT, type: parsesJsonBody });
  app.use(jsonDepthLimit);
  app.set('trust proxy', 'loopback');
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.useGlobalPipes(pathParamsPipe, validationPipe);
  servePortal(app, config);

  const document = openApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
