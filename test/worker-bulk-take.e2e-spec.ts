import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { DataSource } from 'typeorm';
import { BulkJobs, type TakenJob } from '../libs/queue/src/index.js';
import { UsageIngestService } from '../apps/worker/src/ingest/usage-ingest.service.js';
import { WORKER_NAME } from '../apps/worker/src/processors/usage.processor.js';
import { drained, startService, type TestService } from './support/api.js';
import { createAccount, credit, uniqueId } from './support/factories.js';
import { until } from './support/until.js';
import { balancesOf, Workload } from './support/workload.js';

/**
 * WORKER_BULK_TAKE: with `off`, single-event jobs go through BullMQ's own Worker alone (one
 * processor call per job, each job marked processedBy by BullMQ), and the bulk taker's scripts
 * never run; with the default, the same load is taken in bulk.
 */
const GIVEN = '50';
let service: TestService | undefined;
const takes = jest.spyOn(BulkJobs.prototype, 'take');
const prepares = jest.spyOn(UsageIngestService.prototype, 'prepare');

afterEach(async () => {
  await service?.close();
  service = undefined;
});

/** 400 events on accounts of their own, as single `usage` jobs each sent twice, added while the worker runs; resolves once all are billed. */
async function billSingles(bulkTake: boolean) {
  takes.mockClear();
  prepares.mockClear();
  service = await startService({ WORKER_BULK_TAKE: bulkTake });
  const accounts: string[] = [];
  for (let i = 0; i < 8; i++) {
    const { account_id } = await createAccount(service.api);
    await credit(service.api, account_id, GIVEN);
    accounts.push(account_id);
  }
  const workload = new Workload(accounts, uniqueId('bulk-take'));
  const events = workload.events(400);
  const jobs = [...events, ...[...events].reverse()].map((data) => ({ name: 'usage', data }));
  for (let i = 0; i < jobs.length; i += 100) await service.queue.addBulk(jobs.slice(i, i + 100));
  const db = service.api.app.get(DataSource);
  await until(async () => (await db.query('SELECT count(*)::int AS n FROM usage_events WHERE event_id = ANY($1)', [workload.ids]))[0].n === events.length, 'every event billed');
  await drained(service.queue);
  expect(await balancesOf(db, accounts)).toEqual(workload.expectedBalances(GIVEN));
  expect(await service.queue.getJobCounts('failed')).toEqual({ failed: 0 });
  return { jobs: jobs.length, completed: await service.queue.getCompleted(0, -1) };
}

describe('WORKER_BULK_TAKE', () => {
  it('off: BullMQ\'s Worker alone takes and bills every single-event job; the bulk taker never runs', async () => {
    const { jobs, completed } = await billSingles(false);
    expect(takes).not.toHaveBeenCalled();
    expect(prepares).toHaveBeenCalledTimes(jobs);
    expect(completed).toHaveLength(jobs);
    expect(completed.filter((job) => job.processedBy !== WORKER_NAME)).toEqual([]);
  });

  it('on (the default): the same load is mostly taken in bulk, past BullMQ\'s Worker', async () => {
    const { jobs, completed } = await billSingles(true);
    const taken = (await Promise.all(takes.mock.results.map((r) => r.value as Promise<TakenJob[]>))).flat();
    expect(taken.length).toBeGreaterThan(jobs / 2);
    expect(prepares).toHaveBeenCalledTimes(jobs - taken.length);
    expect(completed).toHaveLength(jobs);
    expect(completed.filter((job) => job.processedBy === undefined).map((job) => job.id).sort()).toEqual(taken.map((job) => job.id).sort());
  });
});
