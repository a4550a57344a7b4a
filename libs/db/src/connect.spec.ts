import { describe, expect, it } from '@jest/globals';
import { connectDelayMs, whenPostgresAnswers } from './connect.js';

const refused = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('whenPostgresAnswers', () => {
  it('backs off from half a second, doubling, to at most 15 s', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 20].map(connectDelayMs)).toEqual([500, 1000, 2000, 4000, 8000, 15000, 15000, 15000]);
  });

  it('retries a refused connection, logging each wait, until it answers', async () => {
    const waits: string[] = [];
    let calls = 0;
    const result = await whenPostgresAnswers(
      async () => {
        if (++calls < 3) throw refused();
        return 'connected';
      },
      { onWait: (message) => waits.push(message) },
    );
    expect(result).toBe('connected');
    expect(waits).toEqual([
      'Postgres is not reachable (connect ECONNREFUSED 127.0.0.1:5432); retrying in 0.5 s (attempt 1)',
      'Postgres is not reachable (connect ECONNREFUSED 127.0.0.1:5432); retrying in 1 s (attempt 2)',
    ]);
  });

  it('throws at once what waiting cannot mend, such as a wrong password', async () => {
    const waits: string[] = [];
    const wrongPassword = Object.assign(new Error('password authentication failed for user "postgres"'), { code: '28P01' });
    await expect(whenPostgresAnswers(() => Promise.reject(wrongPassword), { onWait: (m) => waits.push(m) })).rejects.toBe(wrongPassword);
    expect(waits).toEqual([]);
  });

  it('gives up with the last error once giveUpAfterMs would pass', async () => {
    let calls = 0;
    await expect(whenPostgresAnswers(() => (calls++, Promise.reject(refused())), { onWait: () => undefined, giveUpAfterMs: 1_000 })).rejects.toThrow('ECONNREFUSED');
    expect(calls).toBe(2); // waited 0.5 s once; the next wait (1 s) would pass the limit
  });
});
