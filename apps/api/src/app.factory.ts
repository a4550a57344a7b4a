import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { SwaggerModule } from '@nestjs/swagger';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Socket } from 'node:net';
import { type AppConfig, pinoNestLogger, trustProxy } from '@app/config';
import { ApiModule, apiLogging } from './api.module.js';
import { registerJsonBody } from './common/json-body.js';
import { statusTitle } from './common/problem.js';
import { problemOf, sendProblem, statusProblem } from './common/problem.filter.js';
import { pathParamsPipe, validationPipe } from './common/validation.js';
import { openApiDocument } from './docs/openapi.js';
import { servePortal } from './portal/portal.static.js';

/**
 * What Node's HTTP parser refuses before there is a request (malformed bytes, headers over its
 * 16 KB, a request too slow) is answered with a problem document too, and the connection closed.
 */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
  const body = JSON.stringify(statusProblem(status, status === 431 ? 'The request headers are larger than this service accepts.' : 'The request could not be read.'));
  socket.end(`HTTP/1.1 ${status} ${statusTitle(status)}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/**
 * The HTTP server under Nest: Fastify, where Express's routing and replies took about half the
 * API's CPU per request (docs/operations.md, The API's HTTP server). Set to answer as the
 * Express server before it did: paths case-insensitive and with or without a trailing slash,
 * path parameters of any length (the validation pipe judges them), Node's own timeouts.
 */
function httpAdapter(config: AppConfig): FastifyAdapter {
  const trusted = trustProxy(config.TRUST_PROXY) ?? false;
  return new FastifyAdapter({
    // Which peers may say who the client is (X-Forwarded-For): the rate limits key on request.ip.
    // A number n trusts the n hops nearest (proxy-addr's rule for a count, written out).
    trustProxy: typeof trusted === 'number' ? (_address: string, hop: number) => hop < trusted : trusted,
    routerOptions: { caseSensitive: false, ignoreTrailingSlash: true, maxParamLength: 65_536 },
    // A URL the router cannot decode, or a parameter over its limit, is refused before Nest sees
    // the request: answered here, as ProblemFilter answers everything else.
    frameworkErrors: (error: FastifyError, _request: FastifyRequest, reply: FastifyReply) => sendProblem(reply, problemOf(error).problem),
    clientErrorHandler: answerClientError,
    keepAliveTimeout: 5_000,
    requestTimeout: 300_000,
  });
}

/** Builds the HTTP app exactly as production runs it; tests call this too. */
export async function createApiApp(config: AppConfig, options: { logger?: boolean } = {}): Promise<NestFastifyApplication> {
  // pino from the first line, not buffered until the app has started: waits while starting show at once.
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.forRoot(config), httpAdapter(config), {
    bodyParser: false,
    logger: options.logger === false ? false : pinoNestLogger(await apiLogging(config)),
  });
  registerJsonBody(app.getHttpAdapter().getInstance());
  app.useGlobalPipes(pathParamsPipe, validationPipe);
  servePortal(app, config);

  const document = openApiDocument(app);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}
