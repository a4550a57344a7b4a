import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { loadConfig } from '../../libs/config/src/index.js';
import { createApiApp } from '../../apps/api/src/app.factory.js';

export const ADMIN = { Authorization: `Bearer ${process.env.ADMIN_API_KEY}` };
export const bearer = (secret: string) => ({ Authorization: `Bearer ${secret}` });

export interface TestApi {
  app: INestApplication;
  http: () => ReturnType<typeof request>;
  close: () => Promise<void>;
}

/** Boots the real API module in-process against this run's database and Redis prefix. */
export async function startApi(): Promise<TestApi> {
  const app = await createApiApp(loadConfig(process.env), { logger: false });
  await app.init();
  return { app, http: () => request(app.getHttpServer()), close: () => app.close() };
}
