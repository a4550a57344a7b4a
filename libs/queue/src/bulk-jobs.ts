import { Cluster } from 'ioredis';
import type { RedisClient } from './connection.js';
import { prefixSlot } from './slots.js';

/**
 * Takes waiting jobs of one name off a BullMQ queue many at a time, and completes them many at a
 * time, in the queue's own Redis layout, so BullMQ sees them exactly as jobs of its own workers:
 * active with a lock while held (its stalled-job check hands them out again when a holder dies
 * and its lock expires), then completed with a return value (or removed, as the job asked),
 * with "active" and "completed" events on the queue's event stream.
 *
 * Why: BullMQ's Worker runs one Lua script per job to finish it and fetch the next. For
 * single-event usage jobs that script is most of the cost of a job, so taking 500 jobs in one
 * script and finishing them in one more is what lets single-event jobs be billed at the speed of
 * batches. (BullMQ Pro's batches do the same; the open-source Worker takes one job at a time.)
 *
 * Only the plain case is taken: a job in the wait list, of the given name, that is not part of
 * a flow (no parent) and not deduplicated, while the queue is neither paused nor limited (rate
 * or global concurrency). Anything else stays for BullMQ's Worker, which every consumer of the
 * queue still runs: taking stops at the first job that is not plain and leaves it where it was.
 *
 * Written against BullMQ 6.7's key layout (`<prefix>:<queue>:wait|active|stalled|completed|
 * events|meta`, job hash `<prefix>:<queue>:<id>`, lock `<job hash>:lock`); package.json pins
 * that version and test/bulk-jobs.e2e-spec.ts checks the interplay with BullMQ itself.
 *
 * On a Redis Cluster a script may only touch keys of one slot, and these scripts touch keys they
 * do not declare (each job's hash and lock). Every one of those keys starts with the queue's
 * prefix, so a prefix holding a hash tag ({billing}) puts them all in the tag's slot, whatever
 * the job ids: the constructor computes that slot and checks each declared key against it, and
 * refuses a cluster client when there is no such slot.
 */

/** KEYS: wait, active, meta, events. ARGV: job key prefix, max, token, lock ms, now ms, job name. */
const TAKE = `
local meta = redis.call('HMGET', KEYS[3], 'paused', 'concurrency', 'max')
if meta[1] or meta[2] or meta[3] then return {} end
local taken = {}
for _ = 1, tonumber(ARGV[2]) do
  local id = redis.call('RPOPLPUSH', KEYS[1], KEYS[2])
  if not id then break end
  local key = ARGV[1] .. id
  local job = redis.call('HMGET', key, 'name', 'data', 'opts', 'parentKey', 'parent', 'deid')
  if job[1] ~= ARGV[6] or job[4] or job[5] or job[6] then
    redis.call('LREM', KEYS[2], 1, id)
    redis.call('RPUSH', KEYS[1], id)
    break
  end
  redis.call('SET', key .. ':lock', ARGV[3], 'PX', ARGV[4])
  redis.call('HSET', key, 'processedOn', ARGV[5])
  redis.call('HINCRBY', key, 'ats', 1)
  redis.call('XADD', KEYS[4], '*', 'event', 'active', 'jobId', id, 'prev', 'waiting')
  taken[#taken + 1] = id
  taken[#taken + 1] = job[2] or 'null'
  taken[#taken + 1] = job[3] or '{}'
end
return taken`;

/**
 * KEYS: active, stalled, completed, events, meta, wait.
 * ARGV: job key prefix, token, now ms, return value, keep count (-1: all), keep age s (0: any),
 * then pairs of job id and "1" (remove the job once done) or "0" (keep it in completed).
 * Returns { completed, not held } where not held are jobs whose lock was no longer this token's.
 */
const COMPLETE = `
local prefix, token, now, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local done, lost = 0, 0
for i = 7, #ARGV, 2 do
  local id = ARGV[i]
  local key = prefix .. id
  if redis.call('GET', key .. ':lock') == token and redis.call('LREM', KEYS[1], -1, id) > 0 then
    redis.call('DEL', key .. ':lock')
    redis.call('SREM', KEYS[2], id)
    if ARGV[i + 1] == '1' then
      redis.call('DEL', key, key .. ':logs')
    else
      redis.call('HINCRBY', key, 'atm', 1)
      redis.call('HSET', key, 'returnvalue', value, 'finishedOn', now)
      redis.call('ZADD', KEYS[3], now, id)
    end
    redis.call('XADD', KEYS[4], '*', 'event', 'completed', 'jobId', id, 'returnvalue', value, 'prev', 'active')
    done = done + 1
  else
    lost = lost + 1
  end
end
local function forget(ids)
  for _, id in ipairs(ids) do redis.call('DEL', prefix .. id, prefix .. id .. ':logs') end
  if #ids > 0 then redis.call('ZREM', KEYS[3], unpack(ids)) end
end
local keepAge = tonumber(ARGV[6])
if keepAge > 0 then
  forget(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', tonumber(now) - keepAge * 1000, 'LIMIT', 0, 1000))
end
local keepCount = tonumber(ARGV[5])
if keepCount >= 0 then
  local excess = redis.call('ZCARD', KEYS[3]) - keepCount
  if excess > 0 then forget(redis.call('ZRANGE', KEYS[3], 0, math.min(excess, 5000) - 1)) end
end
redis.call('XTRIM', KEYS[4], 'MAXLEN', '~', redis.call('HGET', KEYS[5], 'opts.maxLenEvents') or 10000)
if redis.call('LLEN', KEYS[6]) == 0 and redis.call('LLEN', KEYS[1]) == 0 then
  redis.call('XADD', KEYS[4], '*', 'event', 'drained')
end
return {done, lost}`;

/** KEYS: stalled. ARGV: job key prefix, token, lock ms, job ids... Returns how many locks were still held. */
const EXTEND = `
local held = 0
for i = 4, #ARGV do
  local lock = ARGV[1] .. ARGV[i] .. ':lock'
  if redis.call('GET', lock) == ARGV[2] then
    redis.call('SET', lock, ARGV[2], 'PX', ARGV[3])
    redis.call('SREM', KEYS[1], ARGV[i])
    held = held + 1
  end
end
return held`;

/** A job taken in bulk: its raw data (JSON text as BullMQ stored it) and its parsed options. */
export interface TakenJob {
  id: string;
  data: string;
  /** True when the job asked to be removed once completed (`removeOnComplete: true` or 0). */
  removeOnComplete: boolean;
}

/** What BullMQ's `removeOnComplete` worker option says: keep this many (-1: all), for this long (0: forever). */
export interface KeepJobs {
  count: number;
  ageSeconds: number;
}

type Script = (...args: (string | number)[]) => Promise<unknown>;

export class BulkJobs {
  private readonly keys: Record<'wait' | 'active' | 'meta' | 'events' | 'stalled' | 'completed', string>;
  private readonly jobPrefix: string;
  private readonly take_: Script;
  private readonly complete_: Script;
  private readonly extend_: Script;
  /** The slot of every key the scripts touch, or null when they are spread (a prefix without a hash tag, on one server). */
  readonly slot: number | null;

  constructor(
    private readonly client: RedisClient,
    prefix: string,
    queue: string,
    private readonly jobName: string,
  ) {
    this.jobPrefix = `${prefix}:${queue}:`;
    const key = (type: string) => `${this.jobPrefix}${type}`;
    this.keys = { wait: key('wait'), active: key('active'), meta: key('meta'), events: key('events'), stalled: key('stalled'), completed: key('completed') };
    // A job id may hold anything, braces too: one of each kind stands for them all.
    this.slot = prefixSlot(prefix, [...Object.values(this.keys), key('1'), key('{id}:lock')]);
    if (client instanceof Cluster && this.slot === null) {
      throw new Error(`QUEUE_PREFIX ${JSON.stringify(prefix)} has no hash tag: on a Redis Cluster the bulk taker's keys would be spread over slots`);
    }
    const define = (name: string, lua: string, numberOfKeys: number): Script => {
      const command = `bulkJobs${name}`;
      if (!(command in client)) client.defineCommand(command, { lua, numberOfKeys });
      const fn = (client as unknown as Record<string, Script>)[command];
      return (...args) => fn.apply(client, args);
    };
    this.take_ = define('Take', TAKE, 4);
    this.complete_ = define('Complete', COMPLETE, 6);
    this.extend_ = define('Extend', EXTEND, 1);
  }

  /** Moves up to max plain waiting jobs to active, locked with token for lockMs, oldest first. */
  async take(max: number, token: string, lockMs: number): Promise<TakenJob[]> {
    const { wait, active, meta, events } = this.keys;
    const flat = (await this.take_(wait, active, meta, events, this.jobPrefix, max, token, lockMs, Date.now(), this.jobName)) as string[];
    const jobs: TakenJob[] = [];
    for (let i = 0; i < flat.length; i += 3) jobs.push({ id: flat[i], data: flat[i + 1], removeOnComplete: removesOnComplete(flat[i + 2]) });
    return jobs;
  }

  /**
   * Completes jobs held with token, storing returnValue (JSON text) on each, then trims the
   * completed set as keep says (BullMQ's worker option). Jobs no longer held (their lock expired
   * and BullMQ handed them out again) are left alone and counted as notHeld.
   */
  async complete(jobs: readonly TakenJob[], token: string, returnValue: string, keep: KeepJobs): Promise<{ completed: number; notHeld: number }> {
    const { active, stalled, completed, events, meta, wait } = this.keys;
    const pairs = jobs.flatMap((job) => [job.id, job.removeOnComplete ? '1' : '0']);
    const [done, lost] = (await this.complete_(
      active, stalled, completed, events, meta, wait,
      this.jobPrefix, token, Date.now(), returnValue, keep.count, keep.ageSeconds, ...pairs,
    )) as [number, number];
    return { completed: done, notHeld: lost };
  }

  /** Renews the locks still held with token; returns how many were. */
  async extend(ids: readonly string[], token: string, lockMs: number): Promise<number> {
    return (await this.extend_(this.keys.stalled, this.jobPrefix, token, lockMs, ...ids)) as number;
  }
}

/** Whether BullMQ job options (the `opts` JSON of the job hash) ask for removal on completion. */
export function removesOnComplete(opts: string): boolean {
  try {
    const value = (JSON.parse(opts) as { removeOnComplete?: unknown }).removeOnComplete;
    return value === true || value === 0 || (typeof value === 'object' && value !== null && (value as { count?: unknown }).count === 0);
  } catch {
    return false;
  }
}
