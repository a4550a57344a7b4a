import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Queue } from 'bullmq';
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { loadConfig, type AppConfig } from '../../libs/config/src/index.js';
import { redisConnection } from '../../libs/queue/src/index.js';
import { createApiApp } from '../../apps/api/src/app.factory.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';

export const ADMIN = { Authorization: `Bearer ${process.env.ADMIN_API_KEY}` };
export const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });

/** This run's configuration; `overrides` give a spec file its own queue, for instance. */
export const testConfig = (overrides: Partial<AppConfig> = {}): AppConfig => ({ ...loadConfig(process.env), ...overrides });

/** A queue name of its own for a spec file, so parallel files never take each other's jobs. */
export const uniqueQueueName = () => `usage-${randomBytes(4).toString('hex')}`;

export interface TestApi {
  app: INestApplication;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/** Boots the real API module in-process against this run's database and Redis prefix. */
export async function startApi(overrides: Partial<AppConfig> = {}, beforeInit: (app: NestFastifyApplication) => void = () => undefined): Promise<TestApi> {
  const app = await createApiApp(testConfig(overrides), { logger: false });
  beforeInit(app);
  await initApi(app);
  return { app, http: () => request(app.getHttpServer()), close: () => app.close() };
}

/** Nest's init, then Fastify's ready(): its hooks and plugins load there, before the first request (listen() does both). */
export async function initApi(app: NestFastifyApplication): Promise<void> {
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
}

/** Boots the real worker module in-process; it starts consuming at once. */
export async function startWorker(overrides: Partial<AppConfig> = {}): Promise<INestApplicationContext> {
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(testConfig(overrides)), { logger: false });
  await app.init();
  return app;
}

/** A producer on the given queue, as the gateway would hold one. */
export function producer(queueName: string): Queue {
  const config = testConfig();
  return new Queue(queueName, { connection: redisConnection(config.REDIS_URL), prefix: config.QUEUE_PREFIX });
}

/** Waits until nothing is waiting, delayed or active on the queue: every job has been committed or failed. */
export async function drained(queue: Queue, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
    if (Object.values(counts).every((n) => n === 0)) return;
    if (Date.now() > deadline) throw new Error(`queue not drained after ${timeoutMs} ms: ${JSON.stringify(counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface TestService {
  api: TestApi;
  worker: INestApplicationContext;
  /** A producer on the service's own queue. */
  queue: Queue;
  close: () => Promise<void>;
}

/** The API, a worker and a producer on a queue of their own: the whole service, as a spec file needs it. */
export async function startService(overrides: Partial<AppConfig> = {}): Promise<TestService> {
  const USAGE_QUEUE = overrides.USAGE_QUEUE ?? uniqueQueueName();
  const api = await startApi({ ...overrides, USAGE_QUEUE });
  const worker = await startWorker({ ...overrides, USAGE_QUEUE });
  const queue = producer(USAGE_QUEUE);
  const close = async () => {
    await queue.close();
    await worker.close();
    await api.close();
  };
  return { api, worker, queue, close };
}
