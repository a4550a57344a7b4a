import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { ADMIN, drained } from './support/api.js';
import { createAccount, uniqueId, usageEvent } from './support/factories.js';
import { scratchStack, type Stack } from './support/stack.js';

// Its own database: reconciliation reads whole tables, and one test here tampers with them.
let stack: Stack;

beforeAll(async () => {
  stack = await scratchStack();
});
afterAll(() => stack?.close());

type Report = { ok: boolean; checks: { name: string; ok: boolean; expected: string; actual: string }[]; discrepancies: { check: string; id: string; actual: string }[] };
const reconcile = async (query = ''): Promise<Report> => (await stack.api.http().get(`/v1/reconciliation${query}`).set(ADMIN).expect(200)).body;
const check = (report: Report, name: string) => report.checks.find((c) => c.name === name)!;
const ingest = async (events: unknown[]) => (await stack.api.http().post('/v1/usage-events').set(ADMIN).send({ events }).expect(202)).body;

describe('an event rejected for a reason that can pass, then priced on resend', () => {
  it('is normal operation, not "priced and rejected"', async () => {
    // Sent before its account exists (the account is being created at the same time).
    const accountId = uniqueId();
    const early = usageEvent(accountId);
    expect((await ingest([early])).rejected).toEqual([expect.objectContaining({ reason: 'unknown_account' })]);
    await createAccount(stack.api, { account_id: accountId });
    // Sent by a gateway whose clock ran ahead, then again once its clock was put right.
    const skewed = usageEvent(accountId, { occurred_at: new Date(Date.now() + 3_600_000).toISOString() });
    expect((await ingest([skewed])).rejected).toEqual([expect.objectContaining({ reason: 'timestamp_in_future' })]);
    await ingest([early, { ...skewed, occurred_at: new Date().toISOString() }]);
    await drained(stack.queue);
    for (const id of [early.event_id, skewed.event_id]) {
      expect((await stack.api.http().get(`/v1/usage-events/${id}`).set(ADMIN).expect(200)).body.status).toBe('priced');
    }

    const report = await reconcile();
    expect(check(report, 'no_event_priced_and_rejected')).toMatchObject({ ok: true, expected: '0', actual: '0' });
    expect(report.discrepancies).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('is still reported when the rejection came after the pricing, or for a reason that cannot pass', async () => {
    const { account_id } = await createAccount(stack.api);
    const priced = usageEvent(account_id);
    // Rejected for what it says (counts that are not integers), then "priced" with other content: the same request told two ways.
    const malformed = usageEvent(account_id, { usage: { prompt_tokens: 1.5, completion_tokens: 1 } });
    expect((await ingest([malformed])).rejected).toEqual([expect.objectContaining({ reason: 'invalid_token_count' })]);
    await ingest([priced, { ...malformed, usage: { prompt_tokens: 2, completion_tokens: 1 } }]);
    await drained(stack.queue);
    // A rejection for a reason that can pass, recorded after the event was priced: something is off.
    await stack.db.query(
      "INSERT INTO rejected_events (event_id, account_id, reason, detail, payload, payload_hash, source) VALUES ($1, $2, 'unknown_account', 'x', '{}', $3, 'queue')",
      [priced.event_id, account_id, uniqueId('hash')],
    );
    try {
      const report = await reconcile();
      expect(check(report, 'no_event_priced_and_rejected')).toMatchObject({ ok: false, expected: '0', actual: '2' });
      expect(report.discrepancies.filter((d) => d.check === 'no_event_priced_and_rejected').map((d) => [d.id, d.actual]).sort()).toEqual(
        [
          [malformed.event_id, 'priced, and rejected as invalid_token_count'],
          [priced.event_id, 'priced, and rejected as unknown_account'],
        ].sort(),
      );
    } finally {
      await stack.db.query('DELETE FROM rejected_events WHERE event_id = ANY($1)', [[priced.event_id, malformed.event_id]]);
    }
  });
});

describe('reconciliation bounds', () => {
  it('refuses from/to that are not whole UTC hours with a 422 naming the field (rollups are hourly)', async () => {
    const { account_id } = await createAccount(stack.api);
    await ingest([
      usageEvent(account_id, { occurred_at: '2026-11-05T10:10:00Z' }),
      usageEvent(account_id, { occurred_at: '2026-11-05T10:50:00Z' }),
    ]);
    await drained(stack.queue);
    const whole = await reconcile('?from=2026-11-05T10:00:00Z&to=2026-11-05T11:00:00Z');
    expect(check(whole, 'rollups_match_events')).toMatchObject({ ok: true, expected: '0.000108', actual: '0.000108' });

    for (const [query, field] of [
      ['?from=2026-11-05T10:30:00Z', 'from'],
      ['?from=2026-11-05T10:00:00Z&to=2026-11-05T10:59:59.999Z', 'to'],
    ]) {
      const res = await stack.api.http().get(`/v1/reconciliation${query}`).set(ADMIN).expect(422);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 422, detail: `${field} must fall on a whole UTC hour: rollups are kept per hour.`, errors: [{ field, message: 'not on a whole hour' }] });
    }
  });

  it('npm run reconcile refuses them too, exit 2 with the same sentence', () => {
    const result = spawnSync(process.execPath, ['dist/apps/cli/src/reconcile.js', '--from', '2026-11-05T10:30:00Z'], {
      env: { PATH: process.env.PATH, DATABASE_URL: stack.url },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('reconcile: from must fall on a whole UTC hour: rollups are kept per hour.');
    expect(result.stdout).toBe('');
  });
});
