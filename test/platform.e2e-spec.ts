import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { loadConfig } from '../libs/config/src/index.js';
import { createApiApp } from '../apps/api/src/app.factory.js';
import { ADMIN, initApi, startApi, type TestApi } from './support/api.js';

let api: TestApi;

beforeAll(async () => {
  api = await startApi();
});
afterAll(() => api.close());

describe('GET /health', () => {
  it('is ok when Postgres and Redis answer', async () => {
    const res = await api.http().get('/health').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', postgres: 'up', redis: 'up' });
  });

  it('is 503 naming Redis when Redis does not answer', async () => {
    const app = await createApiApp(loadConfig({ ...process.env, REDIS_URL: 'redis://127.0.0.1:1' }), { logger: false });
    await initApi(app);
    try {
      const res = await request(app.getHttpServer()).get('/health').expect(503);
      expect(res.body).toMatchObject({ status: 'error', postgres: 'up', redis: 'down' });
    } finally {
      await app.close();
    }
  });
});

describe('/docs', () => {
  it('serves the OpenAPI document with the account and pricing routes', async () => {
    const res = await api.http().get('/docs-json').expect(200);
    expect(Object.keys(res.body.paths).sort()).toEqual(
      expect.arrayContaining([
        '/health',
        '/v1/pricing',
        '/v1/rate-cards',
        '/v1/rate-cards/{version}',
        '/v1/accounts',
        '/v1/accounts/{id}',
        '/v1/accounts/{id}/api-keys',
        '/v1/accounts/{id}/credits',
        '/v1/accounts/{id}/balance',
        '/v1/accounts/{id}/ledger',
      ]),
    );
    expect(res.body.components.schemas.CreateCreditDto.properties.amount.example).toBe('25.00');
  });

  it('serves the UI', async () => {
    const res = await api.http().get('/docs').redirects(1).expect(200);
    expect(res.text).toContain('swagger-ui');
  });
});

describe('errors are problem+json', () => {
  it('answers an unknown route with a 404 problem', async () => {
    const res = await api.http().get('/v1/nothing-here').set(ADMIN).expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: expect.any(String), title: 'Not Found', status: 404, detail: expect.any(String) });
  });

  it('answers malformed JSON with a 400 problem', async () => {
    const res = await api.http().post('/v1/accounts').set(ADMIN).set('Content-Type', 'application/json').send('{"name":').expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('answers an oversized body with 413', async () => {
    const huge = JSON.stringify({ name: 'x'.repeat(9 * 1024 * 1024) });
    const res = await api.http().post('/v1/accounts').set(ADMIN).set('Content-Type', 'application/json').send(huge);
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('never shows a stack', async () => {
    const res = await api.http().post('/v1/accounts').set(ADMIN).set('Content-Type', 'application/json').send('[1,2');
    expect(JSON.stringify(res.body)).not.toMatch(/at .*\.(js|ts):\d+/);
  });
});
