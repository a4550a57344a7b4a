import { GroupCommit } from '@app/db';
import type { FlushResult, PreparedJob } from '../ingest/usage-ingest.service.js';

/**
 * Flush lanes: each account belongs to one lane (by a hash of its id), and each lane group-commits
 * its own flushes, one at a time, so a worker has as many flushes in the database at once as it
 * has lanes. Lanes never touch the same account, so their transactions never wait for each other's
 * row locks; within one each flush locks its accounts in account order, as every writer does, so
 * nothing deadlocks across lanes or processes either. A job's events are split over the lanes and
 * the job is done (or failed) when every part is: a part that committed is a duplicate when the job
 * is redelivered.
 */
export class FlushLanes {
  private readonly lanes: GroupCommit<PreparedJob, FlushResult | Error>[];

  constructor(count: number, flush: (jobs: PreparedJob[]) => Promise<(FlushResult | Error)[]>, maxEvents: number) {
    this.lanes = Array.from({ length: count }, () => new GroupCommit(flush, maxEvents));
  }

  async submit(prepared: PreparedJob): Promise<FlushResult | Error> {
    const parts = splitByLane(prepared, this.lanes.length);
    const results = await Promise.all(parts.map(({ lane, part }) => this.lanes[lane].submit(part, part.events)));
    return results.find((r): r is Error => r instanceof Error) ?? combine(results as FlushResult[]);
  }
}

/** FNV-1a of the account id: which lane its events flush in. */
export function laneOf(accountId: string, lanes: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < accountId.length; i++) hash = Math.imul(hash ^ accountId.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % lanes;
}

/**
 * A job's events by lane. Rejections, duplicates within the job and the count of queue jobs it
 * stands for go with its first part, so each is counted once; every part has at least one event.
 */
export function splitByLane(prepared: PreparedJob, lanes: number): { lane: number; part: PreparedJob }[] {
  if (lanes === 1) return [{ lane: 0, part: prepared }];
  const priced = new Map<number, PreparedJob['plan']['priced']>();
  for (const candidate of prepared.plan.priced) {
    const lane = laneOf(candidate.event.accountId, lanes);
    (priced.get(lane) ?? priced.set(lane, []).get(lane)!).push(candidate);
  }
  const order = [...priced.keys()].sort((a, b) => a - b);
  if (!order.length) return [{ lane: 0, part: prepared }];
  return order.map((lane, i) => {
    const first = i === 0;
    const candidates = priced.get(lane)!;
    const rejections = first ? prepared.plan.rejections : [];
    return {
      lane,
      part: {
        jobId: prepared.jobId,
        jobs: first ? prepared.jobs : 0,
        events: candidates.length + rejections.length + (first ? prepared.plan.duplicates : 0),
        plan: { priced: candidates, rejections, duplicates: first ? prepared.plan.duplicates : 0 },
      },
    };
  });
}

function combine(results: FlushResult[]): FlushResult {
  if (results.length === 1) return results[0];
  return {
    flush: results.map((r) => r.flush).join(','),
    priced: results.reduce((n, r) => n + r.priced, 0),
    rejected: results.reduce((n, r) => n + r.rejected, 0),
    duplicates: results.reduce((n, r) => n + r.duplicates, 0),
  };
}
