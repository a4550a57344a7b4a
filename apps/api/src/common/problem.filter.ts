import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { QueryFailedError } from 'typeorm';
import { BillingException, BillingExceptionCode } from '@app/billing';
import { type Problem, ProblemException, problemType, statusTitle } from './problem.js';

const BILLING_STATUS: Record<BillingExceptionCode, number> = {
  [BillingExceptionCode.VALIDATION]: 422,
  [BillingExceptionCode.NOT_FOUND]: 404,
  [BillingExceptionCode.CONFLICT]: 409,
  [BillingExceptionCode.IDEMPOTENCY_MISMATCH]: 409,
  [BillingExceptionCode.FORBIDDEN]: 403,
  [BillingExceptionCode.UNAUTHENTICATED]: 401,
};

/** Errors that body-parser raises for what the client sent (they carry their own status). */
const BODY_PARSER_TYPES = new Set([
  'entity.parse.failed',
  'entity.too.large',
  'encoding.unsupported',
  'charset.unsupported',
  'request.aborted',
  'request.size.invalid',
  'stream.encoding.set',
  'parameters.too.many',
]);

/**
 * The one place where anything thrown becomes an HTTP answer: application/problem+json,
 * a 4xx for whatever the client sent, and a 500 that never shows a stack or an internal message.
 */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('ProblemFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    const { problem, headers } = problemOf(exception);
    if (problem.status >= 500) this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    if (reply.sent || reply.raw.headersSent) return void reply.raw.end();
    sendProblem(reply, problem, headers);
  }
}

/** Writes a problem document as the answer. */
export function sendProblem(reply: FastifyReply, problem: Problem, headers: Record<string, string> = {}): void {
  reply.headers(headers).status(problem.status).type('application/problem+json').send(JSON.stringify(problem));
}

/** What anything thrown answers: the problem document, and the headers that go with it. */
export function problemOf(exception: unknown): { problem: Problem; headers: Record<string, string> } {
  if (exception instanceof ProblemException) {
    return {
      problem: { ...problem(exception.getStatus(), exception.slug, exception.message, exception.errors), ...exception.extensions },
      headers: exception.headers,
    };
  }
  if (exception instanceof BillingException) {
    const status = BILLING_STATUS[exception.code];
    return { problem: problem(status, exception.code.toLowerCase().replace(/_/g, '-'), exception.message, exception.errors), headers: {} };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const body = exception.getResponse();
    const message = typeof body === 'string' ? body : (body as { message?: unknown }).message;
    const detail = Array.isArray(message) ? message.join('; ') : typeof message === 'string' ? message : statusTitle(status);
    return { problem: statusProblem(status, detail), headers: {} };
  }
  const parserError = exception as { type?: string; status?: number };
  if (parserError?.type && BODY_PARSER_TYPES.has(parserError.type) && typeof parserError.status === 'number') {
    const detail =
      parserError.type === 'entity.too.large'
        ? 'The request body is larger than this endpoint accepts.'
        : parserError.type === 'entity.parse.failed'
          ? 'The request body is not valid JSON.'
          : 'The request body could not be read.';
    return { problem: statusProblem(parserError.status, detail), headers: {} };
  }
  // Fastify's own refusals of what the client sent (a URL it cannot decode, a route parameter over
  // its limit, a malformed Content-Type): FST_ codes with a 4xx status.
  const fastifyError = exception as { code?: unknown; statusCode?: unknown };
  const fastifyStatus = typeof fastifyError?.code === 'string' && fastifyError.code.startsWith('FST_') ? fastifyError.statusCode : undefined;
  if (typeof fastifyStatus === 'number' && fastifyStatus >= 400 && fastifyStatus < 500) {
    const detail =
      fastifyError.code === 'FST_ERR_BAD_URL'
        ? 'The request URL is not valid percent-encoding.'
        : fastifyStatus === 414
          ? 'The request URL is longer than this service accepts.'
          : 'The request could not be read.';
    return { problem: statusProblem(fastifyStatus, detail), headers: {} };
  }
  if (exception instanceof QueryFailedError) {
    // A last line of defence: validation should have refused these values already.
    const code = (exception.driverError as { code?: string } | undefined)?.code ?? '';
    if (code === '23505') return { problem: problem(409, 'conflict', 'The resource already exists.'), headers: {} };
    if (code.startsWith('22')) return { problem: problem(422, 'unprocessable', 'A value is out of the range this service accepts.'), headers: {} };
  }
  return { problem: problem(500, 'internal', 'An unexpected error occurred; it has been logged.'), headers: {} };
}

/** The problem document of a bare status, for what the router or the HTTP parser refuse. */
export const statusProblem = (status: number, detail: string): Problem => problem(status, slugOf(status), detail);

function slugOf(status: number): string {
  return statusTitle(status).toLowerCase().replace(/[^a-z]+/g, '-').replace(/-$/, '');
}

function problem(status: number, slug: string, detail: string, errors?: Problem['errors']): Problem {
  return { type: problemType(slug), title: statusTitle(status), status, detail, ...(errors?.length ? { errors } : {}) };
}
