import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Money, formatMoney } from '../libs/billing/src/index.js';
import { ADMIN, testConfig, type TestService } from './support/api.js';
import { listeningService, runExample } from './support/example-process.js';

// examples/gateway-producer.ts as a gateway team would run it (npm test has built dist/), against
// this service: the API listening on a port of its own, a worker on a queue of its own.
let service: TestService;
let apiUrl: string;

beforeAll(async () => {
  ({ service, url: apiUrl } = await listeningService());
});
afterAll(() => service.close());

function runProducer(env: Record<string, string>) {
  const config = testConfig();
  return runExample('gateway-producer', {
    API_URL: apiUrl,
    ADMIN_API_KEY: config.ADMIN_API_KEY,
    REDIS_URL: config.REDIS_URL,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    USAGE_QUEUE: service.queue.name,
    ...env,
  });
}

/** Launch prices, computed here: uncached input $0.04, cached $0.02, output $0.07 per 1M tokens. */
const cost = (uncached: number, cached: number, output: number) =>
  formatMoney(new Money(uncached).mul('0.04').add(new Money(cached).mul('0.02')).add(new Money(output).mul('0.07')).div(1_000_000));

describe('examples/gateway-producer', () => {
  it('sends each shape over the queue and HTTP, and prints what each event became and what was billed', async () => {
    const { code, stdout, stderr } = await runProducer({});
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });

    const rows = stdout.split('\n').filter((line) => /^gw-[0-9a-f]{8}-\d+ /.test(line)).map((line) => line.split(/\s+/));
    const byShape = (endpoint: string) => rows.filter((r) => r.includes(endpoint));
    const expected: Record<string, [string, string]> = {
      '/v1/chat/completions': ['176/1024/350', cost(176, 1024, 350)],
      '/v1/responses': ['1000/3000/500', cost(1000, 3000, 500)],
      '/v1/messages': ['300/5000/50', cost(300, 5000, 50)],
      '/v1/completions': ['10/0/1', cost(10, 0, 1)],
    };
    for (const [endpoint, [tokens, price]] of Object.entries(expected)) {
      const priced = byShape(endpoint).filter((r) => r.includes('priced'));
      expect(priced.map((r) => r.slice(-2))).toEqual([[tokens, price], [tokens, price], [tokens, price]]); // usage job, usage-batch job, HTTP
    }
    expect(rows.filter((r) => r.includes('rejected')).map((r) => r.slice(-1)[0])).toEqual(['inconsistent_usage', 'invalid_usage_shape']);
    expect(rows).toHaveLength(14);

    const total = formatMoney(['0.00005202', '0.000135', '0.0001155', '0.00000047'].reduce((sum, c) => sum.add(c), new Money(0)).mul(3));
    expect(total).toBe('0.00090897');
    const summary = /^billed (\S+) USD for 14 events to (\S+); balance (\S+) USD \(active\)$/m.exec(stdout);
    expect(summary?.slice(1, 4)).toEqual([total, expect.stringMatching(/^gateway-demo-[0-9a-f]{8}$/), '0.99909103']);

    const balance = await service.api.http().get(`/v1/accounts/${summary![2]}/balance`).set(ADMIN).expect(200);
    expect(balance.body).toMatchObject({ balance: '0.99909103', status: 'active' });
    expect(stdout).toMatch(/^POST \/v1\/usage-events: 202 \{"accepted":4,"rejected":\[\{"index":4,"event_id":"gw-[0-9a-f]{8}-14","reason":"invalid_usage_shape"/m);
  });

  it('bills the account named by ACCOUNT_ID', async () => {
    const accountId = `gw-test-${Date.now().toString(36)}`;
    await service.api.http().post('/v1/accounts').set(ADMIN).send({ account_id: accountId, name: 'Gateway test' }).expect(201);
    const { code, stdout } = await runProducer({ ACCOUNT_ID: accountId });
    expect(code).toBe(0);
    expect(stdout).toMatch(new RegExp(`^billed 0.00090897 USD for 14 events to ${accountId}; balance -0.00090897 USD \\(depleted\\)$`, 'm'));
  });

  it('exits 2 naming ADMIN_API_KEY when it is not set', async () => {
    const missing = await runProducer({ ADMIN_API_KEY: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('ADMIN_API_KEY is required (the admin key of the billing API)\n');
  });
});
