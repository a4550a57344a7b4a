import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LAUNCH_CATALOG, LAUNCH_PRICES, planBatch } from '@app/billing';
import type { FlushResult, PreparedJob } from '../ingest/usage-ingest.service.js';
import { FlushLanes, laneOf, splitByLane } from './flush-lanes.js';

const ctx = { catalog: LAUNCH_CATALOG, rateCards: [LAUNCH_PRICES], now: new Date('2026-12-01T12:00:00Z') };
const raw = (id: string, account: string) => ({
  event_id: id,
  account_id: account,
  model: 'qwen3-5-4b',
  endpoint: '/v1/chat/completions',
  occurred_at: '2026-12-01T11:00:00Z',
  usage: { prompt_tokens: 10, completion_tokens: 1 },
});
const prepared = (events: unknown[], jobs = 1): PreparedJob => ({ jobId: 'j', events: events.length, jobs, plan: planBatch(events, ctx) });

describe('splitByLane', () => {
  it('keeps every event, each account in one lane only, and counts rejections, duplicates and jobs once', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 5 })), { maxLength: 60 }), fc.integer({ min: 1, max: 5 }), (picks, lanes) => {
        const events = picks.map(([account, id]) => raw(`e${id}-${account}`, `acct-${account}`));
        events.push({ event_id: 'bad' } as never);
        const job = prepared(events, 3);
        const parts = splitByLane(job, lanes);
        expect(parts.reduce((n, p) => n + p.part.events, 0)).toBe(job.events);
        expect(parts.reduce((n, p) => n + p.part.jobs, 0)).toBe(3);
        expect(parts.flatMap((p) => p.part.plan.rejections)).toEqual(job.plan.rejections);
        expect(parts.reduce((n, p) => n + p.part.plan.duplicates, 0)).toBe(job.plan.duplicates);
        expect(parts.flatMap((p) => p.part.plan.priced).length).toBe(job.plan.priced.length);
        for (const { lane, part } of parts) for (const c of part.plan.priced) expect(laneOf(c.event.accountId, lanes)).toBe(lane);
        expect(new Set(parts.map((p) => p.lane)).size).toBe(parts.length);
      }),
    );
  });
});

describe('FlushLanes', () => {
  it('flushes the lanes side by side and answers a job when all its parts have committed', async () => {
    let inside = 0;
    let most = 0;
    const lanes = new FlushLanes(
      2,
      async (jobs) => {
        inside++;
        most = Math.max(most, inside);
        await new Promise((resolve) => setTimeout(resolve, 20));
        inside--;
        return jobs.map((j): FlushResult => ({ flush: `f${j.plan.priced[0]?.event.accountId ?? '-'}`, priced: j.plan.priced.length, rejected: 0, duplicates: j.plan.duplicates }));
      },
      1000,
    );
    const accounts = Array.from({ length: 20 }, (_, i) => `acct-${i}`);
    expect(new Set(accounts.map((a) => laneOf(a, 2))).size).toBe(2);
    const result = await lanes.submit(prepared(accounts.map((a, i) => raw(`x${i}`, a))));
    expect(result).toMatchObject({ priced: 20, rejected: 0, duplicates: 0 });
    expect(most).toBe(2);
  });

  it('fails the job when any of its parts fails', async () => {
    const lanes = new FlushLanes(2, async (jobs) => jobs.map((j) => (laneOf(j.plan.priced[0].event.accountId, 2) === 1 ? new Error('lane 1 down') : { flush: 'f', priced: 1, rejected: 0, duplicates: 0 })), 1000);
    const accounts = Array.from({ length: 20 }, (_, i) => `acct-${i}`);
    expect(await lanes.submit(prepared(accounts.map((a, i) => raw(`y${i}`, a))))).toEqual(new Error('lane 1 down'));
  });
});
