import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource, type EntityManager } from 'typeorm';
import { GrantsService } from '../libs/db/src/index.js';
import { ADMIN, startApi, type TestApi } from './support/api.js';
import { createAccount, uniqueId } from './support/factories.js';
import { scratchDatabase } from './support/scratch.js';
import { tampered as tamperedWith } from './support/tamper.js';

/** Reconciliation's grant checks, each caught by a tampering of its own (a database of its own: the checks are all-time). */
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let api: TestApi;
let db: DataSource;
let expiredAccount = '';
let expiredGrant = '';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const post = (accountId: string, body: Record<string, unknown>) =>
  api.http().post(`/v1/accounts/${accountId}/credits`).set(ADMIN).set('Idempotency-Key', uniqueId('idem')).send(body).expect(201);
const reconcile = async () => (await api.http().get('/v1/reconciliation').set(ADMIN).expect(200)).body;
const failed = (report: { checks: { name: string; ok: boolean }[] }) => report.checks.filter((c) => !c.ok).map((c) => c.name);

const tampered = (change: (tx: EntityManager) => Promise<unknown>, undo: (tx: EntityManager) => Promise<unknown>) => tamperedWith(db, change, undo, reconcile);

beforeAll(async () => {
  scratch = await scratchDatabase();
  api = await startApi({ DATABASE_URL: scratch.url });
  db = api.app.get(DataSource);
  // One account whose trial grant expired untouched, beside a grant that does not expire.
  expiredAccount = (await createAccount(api)).account_id;
  await post(expiredAccount, { amount: '1', kind: 'purchase' });
  expiredGrant = (await post(expiredAccount, { amount: '1', kind: 'promotional', priority: 0, expires_at: new Date(Date.now() + 1_000).toISOString() })).body.grant_id;
  await sleep(1_100);
  await api.app.get(GrantsService).expireAllDue();
  // Another with a negative adjustment and a void.
  const other = (await createAccount(api)).account_id;
  const voided = (await post(other, { amount: '3', kind: 'refund' })).body.grant_id;
  await post(other, { amount: '-1', kind: 'adjustment' });
  await api.http().post(`/v1/accounts/${other}/grants/${voided}/void`).set(ADMIN).expect(200);
}, 60_000);

afterAll(async () => {
  await api?.close();
  await scratch?.drop();
});

describe('reconciliation of grants', () => {
  it('passes on clean data', async () => {
    const [{ n }] = await db.query("SELECT count(*)::int AS n FROM ledger_entries WHERE kind IN ('expiry', 'void')");
    expect(n).toBe(2);
    const report = await reconcile();
    expect(report.discrepancies).toEqual([]);
    expect(report.checks.filter((c: { name: string }) => c.name.startsWith('grant'))).toEqual([
      expect.objectContaining({ name: 'grants_fold_to_balances', ok: true }),
      expect.objectContaining({ name: 'grant_endings_match_remaining', ok: true, expected: '3', actual: '3' }),
      expect.objectContaining({ name: 'grants_never_negative', ok: true, expected: '0', actual: '0' }),
    ]);
    expect(report.ok).toBe(true);
  });

  it("catches a grant whose amount is not its credit's", async () => {
    const report = await tampered(
      (tx) => tx.query("UPDATE grants SET amount = amount + 0.5 WHERE account_id = $1 AND credit_kind = 'purchase'", [expiredAccount]),
      (tx) => tx.query("UPDATE grants SET amount = amount - 0.5 WHERE account_id = $1 AND credit_kind = 'purchase'", [expiredAccount]),
    );
    expect(failed(report)).toEqual(['grants_fold_to_balances']);
    expect(report.discrepancies).toEqual([expect.objectContaining({ check: 'grants_fold_to_balances', subject: 'account', id: expiredAccount, expected: '1', actual: '1.5' })]);
  });

  it('catches a credit that made no grant', async () => {
    const account = (await createAccount(api)).account_id;
    const report = await tampered(
      async (tx) => {
        await tx.query(`INSERT INTO ledger_entries (account_id, kind, credit_kind, amount, balance_after) VALUES ($1, 'credit', 'purchase', 2, 2)`, [account]);
        await tx.query('UPDATE account_balances SET balance = 2 WHERE account_id = $1', [account]);
      },
      async (tx) => {
        await tx.query('DELETE FROM ledger_entries WHERE account_id = $1', [account]);
        await tx.query('UPDATE account_balances SET balance = 0 WHERE account_id = $1', [account]);
      },
    );
    expect(failed(report)).toEqual(['grants_fold_to_balances']);
    expect(report.discrepancies).toEqual([
      expect.objectContaining({ check: 'grants_fold_to_balances', id: account, expected: '2', actual: expect.stringContaining('has no grant') }),
    ]);
  });

  it('catches an expiry entry that removed more than its grant had left, taking it below zero', async () => {
    // The ledger stays self-consistent (amount, balance_after and the balance move together): only the grant checks can see it.
    const shift = (sign: string) => async (tx: EntityManager) => {
      await tx.query(`UPDATE ledger_entries SET amount = amount ${sign} 0.25, balance_after = balance_after ${sign} 0.25 WHERE kind = 'expiry' AND reference = $1`, [expiredGrant]);
      await tx.query(`UPDATE account_balances SET balance = balance ${sign} 0.25 WHERE account_id = $1`, [expiredAccount]);
    };
    const report = await tampered(shift('-'), shift('+'));
    expect(failed(report)).toEqual(['grant_endings_match_remaining', 'grants_never_negative']);
    expect(report.discrepancies).toEqual([
      expect.objectContaining({ check: 'grant_endings_match_remaining', subject: 'grant', id: expiredGrant, expected: '1', actual: '1.25' }),
      expect.objectContaining({ check: 'grants_never_negative', subject: 'grant', id: expiredGrant, actual: '-0.25' }),
    ]);
    expect((await reconcile()).ok).toBe(true);
  });
});
