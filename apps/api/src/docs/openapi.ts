import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { BODY_LIMIT, BODY_METHODS } from '../common/json-body.js';
import { MAX_BODY_DEPTH } from '../common/json-depth.js';
import { FieldErrorDto, ProblemDto, type ProblemExample, type ProblemStatus, type ResponseEntry, withProblem } from './problems.js';

/**
 * The OpenAPI document served at /docs-json. Routes document their own answers (DTOs with
 * examples, the access decorators, ApiProblem); what the JSON body parser answers for every
 * request with a body is added here, where it applies to all of them alike.
 */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('LLM usage billing')
      .setDescription(
        'Prepaid credits, exact usage pricing, balances, invoices and finance exports for qwen3-5-4b. ' +
          'Money is a decimal string in USD; every error is an application/problem+json document (RFC 9457).',
      )
      .setVersion('1')
      .addBearerAuth()
      .build(),
    { extraModels: [ProblemDto, FieldErrorDto] },
  );
  for (const item of Object.values(document.paths)) {
    for (const method of ['get', 'put', 'post', 'delete', 'patch'] as const) {
      const operation = item[method];
      if (!operation) continue;
      const responses = operation.responses as Record<string, ResponseEntry | undefined>;
      const add = (status: ProblemStatus, when: string, example?: ProblemExample) => (responses[status] = withProblem(responses[status], status, when, example));
      // The router refuses a path that is not valid percent-encoding before any route runs; pathParamsPipe refuses NUL characters.
      const param = operation.parameters?.find((p) => 'in' in p && p.in === 'path') as { name: string } | undefined;
      if (param) {
        add(400, 'a path parameter is not valid percent-encoding', { slug: 'bad-request', detail: 'The request URL is not valid percent-encoding.' });
        add(400, 'a path parameter holds a NUL character', {
          detail: `${param.name} holds a character no id can contain.`,
          errors: [{ field: param.name, message: 'NUL character or unpaired surrogate' }],
        });
      }
      // The JSON body parser and the depth limit run for every request with a body, whatever the route reads.
      if ((BODY_METHODS as readonly string[]).includes(method.toUpperCase())) {
        add(400, 'the body is not JSON', { slug: 'bad-request', detail: 'Unterminated string in JSON at position 10' });
        add(400, `the body nests deeper than ${MAX_BODY_DEPTH} levels`, { detail: `The request body nests deeper than ${MAX_BODY_DEPTH} levels.` });
        add(413, `the body is larger than ${BODY_LIMIT.replace('mb', ' MB')}`);
      }
    }
  }
  return document;
}
