import { describe, expect, it } from '@jest/globals';
import { Money } from '@app/billing';
import { ACTIVE_HOLDS_VACUUM_EVERY, HoldsService } from './holds.service.js';
import type { AuthorizationInput, AuthorizationRow, HoldsRepository } from './repositories/holds.repository.js';

/** A repository that declines everything and counts vacuums; a vacuum finishes when `finish` is called. */
function fakeRepository() {
  const repo = {
    vacuums: 0,
    finish: () => undefined as void,
    authorize: async (batch: AuthorizationInput[]): Promise<AuthorizationRow[]> => batch.map(() => ({ outcome: 'declined', available: new Money(0), hold: null })),
    vacuumActiveHolds: () => {
      repo.vacuums += 1;
      return new Promise<void>((resolve) => (repo.finish = resolve));
    },
  };
  return repo;
}

const request = { holdId: null, amount: new Money('0.01'), ttlSeconds: 300, basis: { amount: '0.01' } };
const authorizeMany = (service: HoldsService, n: number) => Promise.all(Array.from({ length: n }, () => service.authorize('acct-1', request)));
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('HoldsService upkeep of active_holds', () => {
  it('vacuums active_holds once every ACTIVE_HOLDS_VACUUM_EVERY authorizations, not before', async () => {
    const repo = fakeRepository();
    const service = new HoldsService(repo as unknown as HoldsRepository);
    await authorizeMany(service, ACTIVE_HOLDS_VACUUM_EVERY - 1);
    expect(repo.vacuums).toBe(0);
    await authorizeMany(service, 1);
    expect(repo.vacuums).toBe(1);
    repo.finish();
    await tick();
    await authorizeMany(service, ACTIVE_HOLDS_VACUUM_EVERY - 1);
    expect(repo.vacuums).toBe(1);
    await authorizeMany(service, 1);
    expect(repo.vacuums).toBe(2);
  });

  it('starts no second vacuum while one runs, and answers authorizations meanwhile', async () => {
    const repo = fakeRepository();
    const service = new HoldsService(repo as unknown as HoldsRepository);
    await authorizeMany(service, ACTIVE_HOLDS_VACUUM_EVERY);
    expect(repo.vacuums).toBe(1);
    const answers = await authorizeMany(service, 2 * ACTIVE_HOLDS_VACUUM_EVERY);
    expect(answers.every((a) => a.outcome === 'declined')).toBe(true);
    expect(repo.vacuums).toBe(1);
    repo.finish();
    await tick();
    await authorizeMany(service, ACTIVE_HOLDS_VACUUM_EVERY);
    expect(repo.vacuums).toBe(2);
  });

  it('answers the authorizations whatever the vacuum does: a failed vacuum is logged, not thrown', async () => {
    const repo = fakeRepository();
    repo.vacuumActiveHolds = () => {
      repo.vacuums += 1;
      return Promise.reject(new Error('vacuum refused'));
    };
    const service = new HoldsService(repo as unknown as HoldsRepository);
    const warnings: string[] = [];
    (service as unknown as { logger: { warn: (m: string) => void } }).logger = { warn: (m: string) => warnings.push(m) };
    const answers = await authorizeMany(service, ACTIVE_HOLDS_VACUUM_EVERY);
    expect(answers).toHaveLength(ACTIVE_HOLDS_VACUUM_EVERY);
    await tick();
    expect(warnings).toEqual(['vacuum of active_holds failed: Error: vacuum refused']);
    await authorizeMany(service, ACTIVE_HOLDS_VACUUM_EVERY);
    expect(repo.vacuums).toBe(2);
  });
});
