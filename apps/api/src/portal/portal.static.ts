import type { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
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

/** Hashed file names change with their content, so they can be cached for good; index.html never is. */
function cacheControl(response: Response, path: string): void {
  response.setHeader('Cache-Control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
}

/** Serves the portal at /portal/ (and /portal redirects there), every response with the portal's security headers. */
export function servePortal(app: NestExpressApplication, config: AppConfig): void {
  const headers = Object.entries(portalHeaders(config.PORTAL_FRAME_ANCESTORS));
  app.use('/portal', (_request: Request, response: Response, next: NextFunction) => {
    for (const [name, value] of headers) response.setHeader(name, value);
    next();
  });
  if (!existsSync(PORTAL_ASSETS)) return;
  app.useStaticAssets(PORTAL_ASSETS, { prefix: '/portal', index: 'index.html', etag: true, setHeaders: cacheControl });
}
