import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * authorize_holds plans each of its statements once per connection and keeps the plan.
 *
 * Left to itself, Postgres planned most of them again on every call: a PL/pgSQL statement with
 * parameters gets a custom plan for the first five calls and afterwards whenever the generic plan
 * looks dearer than the custom ones did, which here it always did. Since IndexProbedHolds every
 * lookup in the function probes a primary key or the account index whatever the statistics say,
 * so the generic plan is the same plan. Measured on one connection: a call deciding one request
 * cost Postgres 1.1 ms of CPU before and 0.57-0.72 ms after; a call of 16 or 32, where the
 * planning is shared out, about the same before and after.
 *
 * jit off: the statements read a few rows each, and a plan costed high on a stale estimate
 * (active_holds full of dead rows, say) would otherwise spend ~10 ms compiling at every call.
 *
 * Settings attached to the function, not the connection: they hold wherever it is called from,
 * and for nothing else. A later migration that creates authorize_holds anew must set them again.
 */
export class GenericPlanHolds1795000017000 implements MigrationInterface {
  name = 'GenericPlanHolds1795000017000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('ALTER FUNCTION authorize_holds(jsonb) SET plan_cache_mode = force_generic_plan');
    await q.query('ALTER FUNCTION authorize_holds(jsonb) SET jit = off');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER FUNCTION authorize_holds(jsonb) RESET plan_cache_mode');
    await q.query('ALTER FUNCTION authorize_holds(jsonb) RESET jit');
  }
}
