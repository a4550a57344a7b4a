import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule } from '@nestjs/swagger';
import { type AppConfig, pinoNestLogger, trustProxy } from '@app/config';
import { ApiModule, apiLogging } from './api.module.js';
import { BODY_LIMIT, parsesJsonBody } from './common/json-body.js';
import { jsonDepthLimit } from './common/json-depth.js';
import { pathParamsPipe, validationPipe } from './common/validation.js';
import { openApiDocument } from './docs/openapi.js';
import { servePortal } from './portal/portal.static.js';

/** Builds the HTTP app exactly as production runs it; tests call this too. */
export async function createApiApp(config: AppConfig, options: { logger?: boolean } = {}): Promise<NestExpressApplication> {
  // pino from the first line, not buffered until the app has started: waits while starting show at once.
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config), {
    bodyParser: false,
    logger: options.logger === false ? false : pinoNestLogger(await apiLogging(config)),
  });
  app.useBodyParser('json', { limit: BODY_LIMIT, type: parsesJsonBody });
  app.use(jsonDepthLimit);
  // Which peers may say who the client is (X-Forwarded-For): the rate limits key on req.ip.
  app.set('trust proxy', trustProxy(config.TRUST_PROXY));
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.useGlobalPipes(pathParamsPipe, validationPipe);
  servePortal(app, config);

  const document = openApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
