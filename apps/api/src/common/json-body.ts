import bodyParser from 'body-parser';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import typeIs from 'type-is';
import { MAX_BODY_DEPTH, jsonDepthExceeds } from './json-depth.js';
import { badRequest } from './problem.js';

/** Largest JSON body: a 1000-event batch with 4 KiB of metadata each fits well inside. */
export const BODY_LIMIT = '8mb';

/** The methods whose requests carry a body. Others (GET, DELETE) have none parsed, so never a 400 or 413 for one. */
export const BODY_METHODS = ['POST', 'PUT', 'PATCH'] as const;

const JSON_TYPES = ['application/json', 'application/*+json'];

/** A JSON body, on a method that carries one: the only bodies the API reads. */
const parsesJsonBody = (request: IncomingMessage): boolean =>
  (BODY_METHODS as readonly string[]).includes(request.method ?? '') && Boolean(typeIs(request, JSON_TYPES));

/**
 * body-parser's JSON reader, kept behind Fastify for what it does for the body: gzip, deflate and
 * br decoded with the limit on the decoded size (a gzip bomb is a 413), charsets other than UTF
 * refused with 415, strict JSON (an object or an array), an empty body read as {}. Its errors carry
 * their status and go to ProblemFilter like any other.
 */
const readJson = bodyParser.json({ limit: BODY_LIMIT, type: () => true });

/**
 * Every body goes through one parser: JSON on POST, PUT and PATCH is read and parsed, refused when
 * it nests deeper than MAX_BODY_DEPTH (class-transformer recurses without bound); any other body is
 * left unread, as none of the routes take one. So a request is never refused for its content type
 * alone: the route's validation says what is missing.
 */
export function registerJsonBody(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request: FastifyRequest, _payload: IncomingMessage, done: (error: Error | null, body?: unknown) => void) => {
    const raw = request.raw as IncomingMessage & { body?: unknown };
    if (!parsesJsonBody(raw)) return done(null, undefined);
    readJson(raw, undefined as unknown as ServerResponse, (error?: unknown) => {
      if (error) return done(error as Error);
      if (jsonDepthExceeds(raw.body, MAX_BODY_DEPTH)) return done(badRequest(`The request body nests deeper than ${MAX_BODY_DEPTH} levels.`));
      done(null, raw.body);
    });
  });
}
