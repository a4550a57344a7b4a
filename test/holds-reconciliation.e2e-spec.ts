import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import { ADMIN, drained } from './support/api.js';
import { createAccount, credit, usageEvent } from './support/factories.js';
import { scratchStack, type Stack } from './support/stack.js';
import { tampered as tamperedWith } from './support/tamper.js';

/** Reconciliation's hold checks, each caught by a tampering of its own (a database of its own: the checks are all-time). */
let stack: Stack;
let account = '';
let settling = '';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const hold = (accountId: string, body: Record<string, unknown>) => stack.api.http().post(`/v1/accounts/${accountId}/holds`).set(ADMIN).send(body).expect(201);
const reconcile = async () => (await stack.api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body;
const failed = (report: { checks: { name: string; ok: boolean }[] }) => report.checks.filter((c) => !c.ok).map((c) => c.name);
const tampered = (change: (tx: EntityManager) => Promise<unknown>, undo: (tx: EntityManager) => Promise<unknown>) => tamperedWith(stack.db, change, undo, reconcile);

beforeAll(async () => {
  stack = await scratchStack();
  // One account with a hold of each fate: settled by its event, released, expired, and active.
  account = (await createAccount(stack.api)).account_id;
  await credit(stack.api, account, '10');
  await hold(account, { hold_id: 'rec-settled', amount: '0.01' });
  await hold(account, { hold_id: 'rec-released', amount: '2' });
  await stack.api.http().post('/v1/holds/rec-released/release').set(ADMIN).expect(200);
  await hold(account, { hold_id: 'rec-expired', amount: '3', ttl_seconds: 1 });
  await hold(account, { hold_id: 'rec-active', amount: '1.5' });
  const event = usageEvent(account, { hold_id: 'rec-settled' });
  settling = event.event_id;
  await stack.queue.add('usage', event);
  await drained(stack.queue);
  await sleep(1_100);
}, 60_000);

afterAll(() => stack?.close());

describe('reconciliation of holds', () => {
  it('passes on clean data', async () => {
    const settled = (await stack.api.http().get('/v1/holds/rec-settled').set(ADMIN).expect(200)).body;
    expect(settled).toMatchObject({ status: 'settled', settled_amount: '0.000054', settled_event_id: settling });
    const report = await reconcile();
    expect(report.discrepancies).toEqual([]);
    expect(report.checks.filter((c: { name: string }) => c.name.startsWith('hold'))).toEqual([
      expect.objectContaining({ name: 'hold_ends_match', ok: true, expected: '0.000054', actual: '0.000054' }),
      expect.objectContaining({ name: 'holds_active_set', ok: true, expected: '1.5', actual: '1.5' }),
      expect.objectContaining({ name: 'holds_within_credits', ok: true, expected: '0', actual: '0' }),
    ]);
    expect(report.ok).toBe(true);
  });

  it('catches a settled amount that is not its event\'s cost', async () => {
    const report = await tampered(
      (tx) => tx.query("UPDATE hold_ends SET settled_amount = 0.0001 WHERE hold_id = 'rec-settled'"),
      (tx) => tx.query("UPDATE hold_ends SET settled_amount = 0.000054 WHERE hold_id = 'rec-settled'"),
    );
    expect(failed(report)).toEqual(['hold_ends_match']);
    expect(report.discrepancies).toEqual([
      { check: 'hold_ends_match', subject: 'hold', id: 'rec-settled', expected: `settled by an event of ${account} naming it, priced while it counted, at 0.000054`, actual: 'settled at 0.0001' },
    ]);
  });

  it('catches a settlement by an event that names another hold, or that was priced after the hold had expired', async () => {
    const renamed = await tampered(
      (tx) => tx.query("UPDATE usage_events SET hold_id = 'rec-active' WHERE event_id = $1", [settling]),
      (tx) => tx.query("UPDATE usage_events SET hold_id = 'rec-settled' WHERE event_id = $1", [settling]),
    );
    expect(failed(renamed)).toEqual(['hold_ends_match']);
    expect(renamed.discrepancies).toEqual([expect.objectContaining({ id: 'rec-settled', actual: `settled by ${settling}, which names rec-active` })]);

    const late = await tampered(
      (tx) => tx.query("UPDATE usage_events SET received_at = received_at + interval '1 hour' WHERE event_id = $1", [settling]),
      (tx) => tx.query("UPDATE usage_events SET received_at = received_at - interval '1 hour' WHERE event_id = $1", [settling]),
    );
    expect(failed(late)).toEqual(['hold_ends_match']);
    expect(late.discrepancies).toEqual([expect.objectContaining({ id: 'rec-settled', actual: `settled by ${settling}, priced when the hold did not count` })]);
  });

  it('catches a hold end without its hold', async () => {
    const report = await tampered(
      (tx) => tx.query("INSERT INTO hold_ends (hold_id, kind) VALUES ('rec-ghost', 'released')"),
      (tx) => tx.query("DELETE FROM hold_ends WHERE hold_id = 'rec-ghost'"),
    );
    expect(failed(report)).toEqual(['hold_ends_match']);
    expect(report.discrepancies).toEqual([expect.objectContaining({ check: 'hold_ends_match', id: 'rec-ghost', actual: 'no such hold' })]);
  });

  it('catches an active hold missing from the set held is summed from, or listed there with another amount', async () => {
    const missing = await tampered(
      (tx) => tx.query("DELETE FROM active_holds WHERE hold_id = 'rec-active'"),
      (tx) => tx.query("INSERT INTO active_holds SELECT hold_id, account_id, amount, expires_at FROM holds WHERE hold_id = 'rec-active'"),
    );
    expect(failed(missing)).toEqual(['holds_active_set']);
    expect(missing.checks.find((c: { name: string }) => c.name === 'holds_active_set')).toMatchObject({ expected: '1.5', actual: '0' });
    expect(missing.discrepancies).toEqual([
      { check: 'holds_active_set', subject: 'hold', id: 'rec-active', expected: expect.stringMatching(new RegExp(`^${account} 1\\.5 until \\d{4}-`)), actual: 'not in active_holds' },
    ]);

    const other = await tampered(
      (tx) => tx.query("UPDATE active_holds SET amount = 0.5 WHERE hold_id = 'rec-active'"),
      (tx) => tx.query("UPDATE active_holds SET amount = 1.5 WHERE hold_id = 'rec-active'"),
    );
    expect(failed(other)).toEqual(['holds_active_set']);
    expect(other.discrepancies).toEqual([expect.objectContaining({ id: 'rec-active', actual: expect.stringMatching(new RegExp(`^${account} 0\\.5 until `)) })]);
  });

  it('catches a hold that no authorization could have given: more than the account was ever credited', async () => {
    const report = await tampered(
      async (tx) => {
        await tx.query(
          `INSERT INTO holds (hold_id, account_id, amount, request_key, created_at, expires_at) VALUES ('rec-too-much', $1, 9, '{}', clock_timestamp(), clock_timestamp() + interval '1 hour')`,
          [account],
        );
        await tx.query("INSERT INTO active_holds SELECT hold_id, account_id, amount, expires_at FROM holds WHERE hold_id = 'rec-too-much'");
      },
      async (tx) => {
        await tx.query("DELETE FROM active_holds WHERE hold_id = 'rec-too-much'");
        await tx.query("DELETE FROM holds WHERE hold_id = 'rec-too-much'");
      },
    );
    expect(failed(report)).toEqual(['holds_within_credits']);
    expect(report.discrepancies).toEqual([
      { check: 'holds_within_credits', subject: 'hold', id: 'rec-too-much', expected: 'at most 10 (credited before it)', actual: '10.5 held with it' },
    ]);
    expect((await reconcile()).ok).toBe(true);
  });
});
