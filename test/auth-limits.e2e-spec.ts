import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { ApiKeysRepository } from '../libs/db/src/index.js';
import { ADMIN, bearer, startApi, type TestApi } from './support/api.js';
import { createAccount, createKey } from './support/factories.js';

/** A secret shaped like an account key, of a key that does not exist. */
const unknownKey = () => `bk_${randomBytes(8).toString('hex')}_${randomBytes(32).toString('base64url')}`;
/** A client behind the proxy (supertest connects from 127.0.0.1, trusted by default as a proxy). */
const from = (address: string) => ({ 'X-Forwarded-For': address });

let api: TestApi;
let account: string;
let secret: string;

beforeAll(async () => {
  api = await startApi({ RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: 5 });
  account = (await createAccount(api)).account_id;
  secret = await createKey(api, account);
});
afterAll(() => api.close());

describe('failed authentication', () => {
  it('is limited per client address: past the limit, 429 with Retry-After, and no more lookups', async () => {
    const lookups = jest.spyOn(api.app.get(ApiKeysRepository), 'findActive');
    try {
      const client = from('203.0.113.10');
      for (let i = 0; i < 4; i++) await api.http().get(`/v1/accounts/${account}`).set(client).set(bearer(unknownKey())).expect(401);
      await api.http().get(`/v1/accounts/${account}`).set(client).expect(401); // no key at all is a failure too: the fifth
      const looked = lookups.mock.calls.length;
      const res = await api.http().get(`/v1/accounts/${account}`).set(client).set(bearer(unknownKey())).expect(429);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.body).toMatchObject({ status: 429, type: '/problems/rate-limited', detail: expect.stringContaining('failed authentications') });
      // From that address an account key is refused too (its lookup is what the limit saves), the admin key is not.
      await api.http().get(`/v1/accounts/${account}`).set(client).set(bearer(secret)).expect(429);
      await api.http().get(`/v1/accounts/${account}`).set(client).set(ADMIN).expect(200);
      expect(lookups.mock.calls.length).toBe(looked);
      // Another address has its own budget.
      await api.http().get(`/v1/accounts/${account}`).set(from('203.0.113.11')).set(bearer(unknownKey())).expect(401);
      await api.http().get(`/v1/accounts/${account}`).set(from('203.0.113.11')).set(bearer(secret)).expect(200);
    } finally {
      lookups.mockRestore();
    }
  });

  it('of the same unknown key costs one lookup while its miss is remembered', async () => {
    const flood = await startApi({ RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: 1_000_000 });
    const lookups = jest.spyOn(flood.app.get(ApiKeysRepository), 'findActive');
    try {
      const key = unknownKey();
      // Many addresses, one key: what a botnet replaying a leaked or made-up key does.
      for (let i = 0; i < 50; i++) await flood.http().get(`/v1/accounts/${account}`).set(from(`198.51.100.${i}`)).set(bearer(key)).expect(401);
      expect(lookups).toHaveBeenCalledTimes(1);
    } finally {
      lookups.mockRestore();
      await flood.close();
    }
  });

  it('never delays a key created after a miss, nor the right secret of a key id that was tried with a wrong one', async () => {
    const client = from('203.0.113.20');
    const { account_id } = await createAccount(api);
    const keyId = (await api.http().get(`/v1/accounts/${account}/api-keys`).set(ADMIN).expect(200)).body.data[0].key_id as string;
    const wrong = `bk_${keyId.slice(4)}_${randomBytes(32).toString('base64url')}`;
    await api.http().get(`/v1/accounts/${account}`).set(client).set(bearer(wrong)).expect(401);
    await api.http().get(`/v1/accounts/${account}`).set(client).set(bearer(secret)).expect(200);
    await api.http().get(`/v1/accounts/${account_id}`).set(client).set(bearer(unknownKey())).expect(401);
    const fresh = await createKey(api, account_id);
    await api.http().get(`/v1/accounts/${account_id}`).set(client).set(bearer(fresh)).expect(200);
  });

  it('a revoked key is refused at once: only misses are remembered, never valid keys', async () => {
    const client = from('203.0.113.30');
    const { account_id } = await createAccount(api);
    const key = await createKey(api, account_id);
    await api.http().get(`/v1/accounts/${account_id}`).set(client).set(bearer(key)).expect(200);
    const [{ key_id }] = (await api.http().get(`/v1/accounts/${account_id}/api-keys`).set(ADMIN).expect(200)).body.data;
    await api.http().delete(`/v1/accounts/${account_id}/api-keys/${key_id}`).set(ADMIN).expect(204);
    await api.http().get(`/v1/accounts/${account_id}`).set(client).set(bearer(key)).expect(401);
  });
});

describe('TRUST_PROXY', () => {
  /** Three requests to the public pricing page, as three clients behind a proxy; the statuses. */
  async function threeClients(overrides: Parameters<typeof startApi>[0]): Promise<number[]> {
    const limited = await startApi({ RATE_LIMIT_PUBLIC_PER_MINUTE: 1, ...overrides });
    try {
      const statuses = [];
      for (const address of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) statuses.push((await limited.http().get('/v1/pricing').set(from(address))).status);
      return statuses;
    } finally {
      await limited.close();
    }
  }

  it('by default (loopback) takes the client address from a local proxy, so each client has its own public budget', async () => {
    expect(await threeClients({})).toEqual([200, 200, 200]);
  });

  it('set to false, believes no X-Forwarded-For: the peer is the client, whatever the header says', async () => {
    expect(await threeClients({ TRUST_PROXY: 'false' })).toEqual([200, 429, 429]);
  });

  it('set to other proxies, does not believe the local peer either', async () => {
    expect(await threeClients({ TRUST_PROXY: '10.0.0.0/8, 192.168.0.1' })).toEqual([200, 429, 429]);
  });
});
