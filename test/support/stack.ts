import type { INestApplicationContext } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import type { AppConfig } from '../../libs/config/src/index.js';
import { producer, startApi, startWorker, uniqueQueueName, type TestApi } from './api.js';
import { scratchDatabase } from './scratch.js';

export interface Stack {
  api: TestApi;
  worker: INestApplicationContext;
  /** A producer on the stack's queue. */
  queue: Queue;
  db: DataSource;
  /** DATABASE_URL of the stack's database. */
  url: string;
  close: () => Promise<void>;
}

/** An API and a worker on a migrated database of their own and a queue of their own, for a spec that reads whole tables. */
export async function scratchStack(overrides: Partial<AppConfig> = {}): Promise<Stack> {
  const scratch = await scratchDatabase();
  const config = { DATABASE_URL: scratch.url, USAGE_QUEUE: uniqueQueueName(), ...overrides };
  const api = await startApi(config);
  const worker = await startWorker(config);
  const queue = producer(config.USAGE_QUEUE);
  const close = async () => {
    await queue.close();
    await worker.close();
    await api.close();
    await scratch.drop();
  };
  return { api, worker, queue, db: api.app.get(DataSource), url: scratch.url, close };
}
