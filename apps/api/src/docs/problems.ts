import { ApiExtension, ApiProperty, ApiPropertyOptional, ApiSchema, DECORATORS, getSchemaPath, type ExampleObject, type HeaderObject } from '@nestjs/swagger';
import { type FieldError, problemType, statusTitle } from '../common/problem.js';

/**
 * Error answers in the OpenAPI document: one problem+json schema (RFC 9457) for all of them, and
 * a decorator that documents a status with an example. Each layer that produces an error declares
 * it where it is set up: the access decorators (auth.decorators.ts) their 401, 403 and 429, the
 * JSON body parser its 400 and 413 (openapi.ts), and a route its own 400, 404, 409, 422 or 503.
 */

@ApiSchema({ name: 'FieldError' })
export class FieldErrorDto implements FieldError {
  @ApiProperty({ example: 'amount', description: 'the field, as a path into the request: prices[0].model, Idempotency-Key, cursor' })
  field: string;

  @ApiProperty({ example: 'must be a decimal string such as "25.00"' })
  message: string;
}

@ApiSchema({ name: 'Problem', description: 'RFC 9457 problem details, sent as application/problem+json.' })
export class ProblemDto {
  @ApiProperty({ example: '/problems/invalid-request', description: 'a relative URI naming the kind of problem; stable, for clients to branch on' })
  type: string;

  @ApiProperty({ example: 'Bad Request', description: 'the HTTP status text' })
  title: string;

  @ApiProperty({ example: 400 })
  status: number;

  @ApiProperty({ example: 'The request is not valid.', description: 'a sentence for a person' })
  detail: string;

  @ApiPropertyOptional({ type: [FieldErrorDto], description: 'one entry per invalid field, when fields are to blame' })
  errors?: FieldErrorDto[];
}

export type ProblemStatus = 400 | 401 | 402 | 403 | 404 | 409 | 413 | 422 | 429 | 503;

export interface ProblemExample {
  /** The last part of `type` (/problems/<slug>); the status's usual one when omitted. */
  slug?: string;
  detail?: string;
  errors?: FieldError[];
}

const USUAL: Record<ProblemStatus, Required<Pick<ProblemExample, 'slug' | 'detail'>>> = {
  400: { slug: 'invalid-request', detail: 'The request is not valid.' },
  401: { slug: 'unauthorized', detail: 'Send an API key as "Authorization: Bearer <key>".' },
  402: { slug: 'insufficient-funds', detail: 'The account has not enough available for this.' },
  403: { slug: 'forbidden', detail: 'This key may not do that.' },
  404: { slug: 'not-found', detail: 'No such resource.' },
  409: { slug: 'conflict', detail: 'This clashes with what exists.' },
  413: { slug: 'payload-too-large', detail: 'The request body is larger than this endpoint accepts.' },
  422: { slug: 'unprocessable', detail: 'The request is well-formed but breaks a rule.' },
  429: { slug: 'rate-limited', detail: 'Too many requests: at most 1200 per minute. Retry in 17 s.' },
  503: { slug: 'service-unavailable', detail: 'A service this needs is unavailable; retry.' },
};

const retryAfter: HeaderObject = { description: 'seconds to wait before retrying', schema: { type: 'integer', example: 5 } };
const HEADERS: Partial<Record<ProblemStatus, Record<string, HeaderObject>>> = {
  401: { 'WWW-Authenticate': { description: 'the scheme to authenticate with', schema: { type: 'string', example: 'Bearer' } } },
  429: { 'Retry-After': retryAfter, 'X-RateLimit-Limit': { description: 'requests allowed per minute', schema: { type: 'integer', example: 1200 } } },
  503: { 'Retry-After': retryAfter },
};

export const PROBLEM_MEDIA_TYPE = 'application/problem+json';

export interface ResponseEntry {
  description: string;
  content: Record<string, { schema: { $ref: string }; examples: Record<string, ExampleObject> }>;
  headers?: Record<string, HeaderObject>;
}

/**
 * The response object for `status` with one more way to answer it added: the description gains
 * `when`, the examples gain one named after its slug. Used by ApiProblem and by the document
 * post-processing for the body parser's errors.
 */
export function withProblem(entry: ResponseEntry | undefined, status: ProblemStatus, when: string, example: ProblemExample = {}): ResponseEntry {
  const slug = example.slug ?? USUAL[status].slug;
  const value = {
    type: problemType(slug),
    title: statusTitle(status),
    status,
    detail: example.detail ?? USUAL[status].detail,
    ...(example.errors ? { errors: example.errors } : {}),
  };
  const previous = entry?.content[PROBLEM_MEDIA_TYPE];
  const examples = { ...previous?.examples };
  let name = slug;
  for (let n = 2; name in examples; n++) name = `${slug}-${n}`;
  examples[name] = { summary: when, value };
  return {
    description: entry ? `${entry.description}; ${when}` : when,
    content: { [PROBLEM_MEDIA_TYPE]: { schema: { $ref: getSchemaPath(ProblemDto) }, examples } },
    ...(HEADERS[status] ? { headers: HEADERS[status] } : {}),
  };
}

/**
 * Documents that the route answers `status` (a problem document) `when` this happens, with an
 * example; several for the same status add up. On a method only: a route's errors are its own.
 */
export function ApiProblem(status: ProblemStatus, when: string, example?: ProblemExample): MethodDecorator {
  return (_target, _key, descriptor) => {
    const holder = descriptor.value as object;
    const responses: Record<string, ResponseEntry> = Reflect.getMetadata(DECORATORS.API_RESPONSE, holder) ?? {};
    Reflect.defineMetadata(DECORATORS.API_RESPONSE, { ...responses, [status]: withProblem(responses[status], status, when, example) }, holder);
    return descriptor;
  };
}

/**
 * Says in the document that an operation answers no error at all, and why: the OpenAPI test
 * otherwise requires every operation to list at least one.
 */
export const ApiNoErrors = (why: string) => ApiExtension('x-no-errors', why);
