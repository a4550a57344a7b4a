import type { Request } from 'express';
import type { IncomingMessage } from 'node:http';

/** Largest JSON body: a 1000-event batch with 4 KiB of metadata each fits well inside. */
export const BODY_LIMIT = '8mb';

/** The methods whose requests carry a body. Others (GET, DELETE) have none parsed, so never a 400 or 413 for one. */
export const BODY_METHODS = ['POST', 'PUT', 'PATCH'] as const;

const JSON_TYPES = ['application/json', 'application/*+json'];

/** body-parser's `type` test: a JSON body, on a method that carries one (body-parser runs as Express middleware: an Express request). */
export const parsesJsonBody = (request: IncomingMessage): boolean =>
  (BODY_METHODS as readonly string[]).includes(request.method ?? '') && Boolean((request as Request).is(JSON_TYPES));
