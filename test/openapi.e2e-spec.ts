import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, startApi, type TestApi } from './support/api.js';

/**
 * /docs-json is what client generators are fed: it must validate, describe every route the app
 * serves, and say for each operation which errors it answers, in one problem+json shape, with
 * examples. Each rule below lists the operations that break it, by method and path.
 */

type Json = Record<string, unknown>;
interface Operation {
  name: string;
  method: string;
  path: string;
  op: Json & { responses: Record<string, Json>; parameters?: { in: string; name: string }[]; requestBody?: Json };
}

let api: TestApi;
let doc: Json & { paths: Record<string, Record<string, Operation['op']>>; components: { schemas: Record<string, Json> } };
let operations: Operation[];
/** The routes Fastify mounted, as its onRoute hook saw them. */
const mounted: { method: string | string[]; url: string }[] = [];

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];
const BODY_METHODS = ['post', 'put', 'patch'];

beforeAll(async () => {
  api = await startApi({}, (app) => app.getHttpAdapter().getInstance().addHook('onRoute', ({ method, url }) => void mounted.push({ method, url })));
  doc = (await api.http().get('/docs-json').expect(200)).body;
  operations = Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((method) => item[method]).map((method) => ({ name: `${method.toUpperCase()} ${path}`, method, path, op: item[method]! })),
  );
});
afterAll(() => api.close());

/** Every route Fastify mounted, as `METHOD /path/{param}`: what Nest (and anything else) registered. */
function servedRoutes(): string[] {
  return mounted.flatMap(({ method, url }) => {
    const methods = (Array.isArray(method) ? method : [method]).map((m) => m.toLowerCase()).filter((m) => METHODS.includes(m) && m !== 'head');
    // The Swagger UI and the document itself are not part of the API they describe; nor are the portal's files.
    if (url === '/docs' || url.startsWith('/docs/') || url.startsWith('/docs-') || url.startsWith('/portal')) return [];
    const path = url.replace(/:(\w+)/g, '{$1}');
    return methods.map((m) => `${m.toUpperCase()} ${path}`);
  });
}

const statuses = (o: Operation) => Object.keys(o.op.responses);
const has = (o: Operation, status: number) => statuses(o).includes(String(status));
const access = (o: Operation) => o.op['x-access'] as string | undefined;
const breaking = (rule: (o: Operation) => string | null) => operations.flatMap((o) => rule(o) ?? []);

describe('the OpenAPI document at /docs-json', () => {
  it('validates as OpenAPI 3 (swagger-parser)', async () => {
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  });

  it('describes every route the app serves, and no route it does not serve', () => {
    const served = servedRoutes();
    const documented = operations.map((o) => o.name);
    expect(served.length).toBeGreaterThan(20);
    expect({ servedButNotDocumented: served.filter((r) => !documented.includes(r)) }).toEqual({ servedButNotDocumented: [] });
    expect({ documentedButNotServed: documented.filter((r) => !served.includes(r)) }).toEqual({ documentedButNotServed: [] });
  });

  it('says who may call each operation (x-access), and protects the ones that need a key', () => {
    expect(breaking((o) => (['public', 'admin', 'account', 'authenticated'].includes(access(o) ?? '') ? null : `${o.name}: no x-access`))).toEqual([]);
    expect(breaking((o) => ((access(o) === 'public') === !o.op.security ? null : `${o.name}: security does not match x-access ${access(o)}`))).toEqual([]);
  });

  it('lists at least one error answer for every operation (or says why it has none)', () => {
    const none = operations.filter((o) => !statuses(o).some((s) => Number(s) >= 400));
    expect(breaking((o) => (none.includes(o) && !o.op['x-no-errors'] ? `${o.name}: no error response` : null))).toEqual([]);
    // An operation that answers no error is rare enough to be named here.
    expect(none.map((o) => o.name)).toEqual(['GET /metrics']);
  });

  it('documents 401 and 403 wherever a key is needed, and 429 wherever requests are rate limited', () => {
    expect(breaking((o) => (access(o) !== 'public' && !(has(o, 401) && has(o, 403)) ? `${o.name}: needs a key but lists no 401 and 403` : null))).toEqual([]);
    const limited = (o: Operation) => ['account', 'authenticated'].includes(access(o)!) || (access(o) === 'public' && !o.op['x-unlimited']);
    expect(breaking((o) => (limited(o) && !has(o, 429) ? `${o.name}: rate limited but lists no 429` : null))).toEqual([]);
    expect(breaking((o) => (!limited(o) && has(o, 429) ? `${o.name}: lists 429 but is never rate limited` : null))).toEqual([]);
  });

  it('documents 400 and 413 for every request with a body, 400 for parameters, and 404 for every path parameter', () => {
    expect(breaking((o) => (BODY_METHODS.includes(o.method) && !(has(o, 400) && has(o, 413)) ? `${o.name}: takes a body but lists no 400 and 413` : null))).toEqual([]);
    expect(breaking((o) => (!BODY_METHODS.includes(o.method) && has(o, 413) ? `${o.name}: lists 413 but no body is read` : null))).toEqual([]);
    expect(breaking((o) => (o.op.parameters?.length && !has(o, 400) ? `${o.name}: has parameters but lists no 400` : null))).toEqual([]);
    expect(breaking((o) => (o.op.parameters?.some((p) => p.in === 'path') && !has(o, 404) ? `${o.name}: has a path parameter but lists no 404` : null))).toEqual([]);
  });

  it('answers every 4xx with the shared Problem schema as application/problem+json, with examples of that status', () => {
    const problems = breaking((o) =>
      statuses(o)
        .filter((s) => s.startsWith('4'))
        .flatMap((s) => {
          const media = (o.op.responses[s]!.content as Record<string, { schema?: { $ref?: string }; examples?: Record<string, { value: Json }> }> | undefined)?.['application/problem+json'];
          const examples = Object.values(media?.examples ?? {});
          if (media?.schema?.$ref !== '#/components/schemas/Problem') return [`${o.name} ${s}: not the Problem schema as application/problem+json`];
          if (!examples.length || examples.some((e) => e.value.status !== Number(s) || !String(e.value.type).startsWith('/problems/'))) return [`${o.name} ${s}: no example, or one of another status`];
          return [];
        })
        .join('; ') || null,
    );
    expect(problems).toEqual([]);
    expect(Object.keys((doc.components.schemas.Problem as { properties: Json }).properties).sort()).toEqual(['detail', 'errors', 'status', 'title', 'type']);
  });

  it('gives every request body and every success response an example', () => {
    const missing = (schema: Json | undefined, at: string, seen = new Set<string>()): string[] => {
      if (!schema) return [`${at}: no schema`];
      if (schema.example !== undefined || schema.format === 'binary') return [];
      if (typeof schema.$ref === 'string') {
        const name = schema.$ref.replace('#/components/schemas/', '');
        return seen.has(name) ? [] : missing(doc.components.schemas[name], `${at}<${name}>`, new Set([...seen, name]));
      }
      if (Array.isArray(schema.allOf)) return (schema.allOf as Json[]).flatMap((part) => missing(part, at, seen));
      if (schema.type === 'array') return missing(schema.items as Json, `${at}[]`, seen);
      if (schema.properties) return Object.entries(schema.properties as Record<string, Json>).flatMap(([key, value]) => missing(value, `${at}.${key}`, seen));
      return [`${at}: no example`];
    };
    const bodies = (o: Operation): [string, Json | undefined][] => {
      const found: [string, Json | undefined][] = [];
      for (const [type, media] of Object.entries((o.op.requestBody?.content ?? {}) as Record<string, Json>)) found.push([`${o.name} body (${type})`, media]);
      for (const s of statuses(o).filter((s) => s.startsWith('2') && s !== '204')) {
        const content = o.op.responses[s]!.content as Record<string, Json> | undefined;
        if (!content) found.push([`${o.name} ${s}`, undefined]);
        for (const [type, media] of Object.entries(content ?? {})) found.push([`${o.name} ${s} (${type})`, media]);
      }
      return found;
    };
    const gaps = operations.flatMap((o) =>
      bodies(o).flatMap(([at, media]) => (!media ? [`${at}: no content`] : media.example !== undefined || media.examples ? [] : missing(media.schema as Json, at))),
    );
    expect(gaps).toEqual([]);
  });
});

describe('what the document says of every operation, the app does', () => {
  it('reads no body on GET or DELETE: a malformed one is neither a 400 nor a 413', async () => {
    await api.http().get('/v1/pricing').set('Content-Type', 'application/json').send('{"not json').expect(200);
    const res = await api.http().delete('/v1/accounts/nobody-here/api-keys/key_0').set(ADMIN).set('Content-Type', 'application/json').send('{"not json');
    expect(res.status).toBe(404);
  });

  it('answers a malformed body with 400 on every POST, even one that reads no body', async () => {
    const res = await api.http().post('/v1/accounts/nobody-here/api-keys').set(ADMIN).set('Content-Type', 'application/json').send('{"not json').expect(400);
    expect(res.body).toMatchObject({ type: '/problems/bad-request', status: 400, detail: 'Unterminated string in JSON at position 10' });
  });

  it('answers a path parameter that is not valid percent-encoding, or holds a NUL character, with 400', async () => {
    const undecodable = await api.http().get('/v1/accounts/%zz').set(ADMIN).expect(400);
    expect(undecodable.body).toMatchObject({ type: '/problems/bad-request', status: 400 });
    const nul = await api.http().get('/v1/accounts/a%00b/balance').set(ADMIN).expect(400);
    expect(nul.body).toEqual({
      type: '/problems/invalid-request',
      title: 'Bad Request',
      status: 400,
      detail: 'id holds a character no id can contain.',
      errors: [{ field: 'id', message: 'NUL character or unpaired surrogate' }],
    });
  });
});
