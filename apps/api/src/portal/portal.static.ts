import fastifyStatic from '@fastify/static';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AppConfig } from '@app/config';
import { portalHeaders } from './portal-headers.js';

/**
 * The customer portal's built files (apps/portal, built by `npm run build` into dist/apps/portal).
 * Compiled, this file is dist/apps/api/src/portal/portal.static.js and the build sits beside the
 * api in dist/apps/; run from its TypeScript source (jest), it is the same build under dist/.
 */
export const PORTAL_ASSETS = fileURLToPath(
  import.meta.url.endsWith('.ts') ? new URL('../../../../dist/apps/portal/', import.meta.url) : new URL('../../../portal/', import.meta.url),
);

/**
 * Hashed file names change with their content, so they can be cached for good; index.html never is.
 * Scripts go out as text/javascript (RFC 9239), where the static server's own table says
 * application/javascript.
 */
function cacheControl(reply: FastifyReply, path: string): void {
  reply.header('Cache-Control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
  if (path.endsWith('.js')) reply.header('Content-Type', 'text/javascript; charset=utf-8');
}

/** Whether a request path is the portal's: /portal, or under /portal/. */
const isPortalPath = (url: string): boolean => /^\/portal(?:[/?#]|$)/i.test(url);

/** Serves the portal at /portal/ (and /portal redirects there), every response with the portal's security headers. */
export function servePortal(app: NestFastifyApplication, config: AppConfig): void {
  const fastify = app.getHttpAdapter().getInstance();
  const headers = portalHeaders(config.PORTAL_FRAME_ANCESTORS);
  fastify.addHook('onRequest', (request, reply, done) => {
    if (isPortalPath(request.url)) reply.headers(headers);
    done();
  });
  if (!existsSync(PORTAL_ASSETS)) return;
  void fastify.register(fastifyStatic, { root: PORTAL_ASSETS, prefix: '/portal/', index: false, etag: true, setHeaders: cacheControl });
  // The router ignores a trailing slash, so /portal and /portal/ are this one route: the page, or
  // a redirect to it (the page's relative links need the slash).
  fastify.get('/portal', (request, reply) => (request.url.split('?')[0].endsWith('/') ? reply.sendFile('index.html') : reply.redirect('/portal/', 301)));
}
