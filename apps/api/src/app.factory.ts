import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { type AppConfig, pinoNestLogger, trustProxy } from '@app/config';
import { ApiModule, apiLogging } from './api.module.js';
import { jsonDepthLimit } from './common/json-depth.js';
import { validationPipe } from './common/validation.js';

/** Largest JSON body: a 1000-event batch with 4 KiB of metadata each fits well inside. */
export const BODY_LIMIT = '8mb';

/** Builds the HTTP app exactly as production runs it; tests call this too. */
export async function createApiApp(config: AppConfig, options: { logger?: boolean } = {}): Promise<NestExpressApplication> {
  // pino from the first line, not buffered until the app has started: waits while starting show at once.
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config), {
    bodyParser: false,
    logger: options.logger === false ? false : pinoNestLogger(apiLogging(config)),
  });
  app.useBodyParser('json', { limit: BODY_LIMIT, type: ['application/json', 'application/*+json'] });
  app.use(jsonDepthLimit);
  // Which peers may say who the client is (X-Forwarded-For): the rate limits key on req.ip.
  app.set('trust proxy', trustProxy(config.TRUST_PROXY));
  app.set('etag', false);
  app.set('x-powered-by', false);
  app.useGlobalPipes(validationPipe);

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('LLM usage billing')
      .setDescription('Prepaid credits, exact usage pricing, balances, invoices and finance exports for qwen3-5-4b.')
      .setVersion('1')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
