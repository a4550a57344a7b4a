import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Money, formatMoney } from '../libs/billing/src/index.js';
import { ADMIN, testConfig, type TestService } from './support/api.js';
import { listeningService, runExample } from './support/example-process.js';

// examples/gateway-holds.ts as a gateway team would run it (npm test has built dist/), against
// this service: the API listening on a port of its own, a worker on a queue of its own.
let service: TestService;
let apiUrl: string;

beforeAll(async () => {
  ({ service, url: apiUrl } = await listeningService());
});
afterAll(() => service.close());

const runHolds = (env: Record<string, string> = {}) => runExample('gateway-holds', { API_URL: apiUrl, ADMIN_API_KEY: testConfig().ADMIN_API_KEY, ...env });

/** Launch prices, computed here: a hold is input × $0.04 + max output × $0.07 per 1M tokens; a cost the same with the output served. */
const price = (input: number, output: number) => formatMoney(new Money(input).mul('0.04').add(new Money(output).mul('0.07')).div(1_000_000));

describe('examples/gateway-holds', () => {
  it('authorizes before it serves, refuses what does not fit, settles, releases, and lets a forgotten hold expire', async () => {
    const { code, stdout, stderr } = await runHolds();
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    const run = /gwh-([0-9a-f]{8})-1 /.exec(stdout)![1];
    const id = (n: number) => `gwh-${run}-${n}`;
    const steps = stdout.split('\n').filter((line) => /^(authorize|serve|release) /.test(line)).map((line) => line.replace(/ {2,}/g, ' '));
    const [first, second, third, fifth] = [price(12_000, 8_192), price(8_000, 4_096), price(20_000, 16_384), price(1_000, 1_000)];
    expect([first, second, third, fifth]).toEqual(['0.00105344', '0.00060672', '0.00194688', '0.00011']);
    const [firstCost, fourthCost] = [price(12_000, 500), price(20_000, 1_200)];
    const left = (...spent: string[]) => formatMoney(spent.reduce((sum, x) => sum.sub(x), new Money('0.003')));
    expect(steps).toEqual([
      `authorize ${id(1)} 12000 in, 8192 max out -> 201 held ${first} (available ${left(first)})`,
      `authorize ${id(2)} 8000 in, 4096 max out -> 201 held ${second} (available ${left(first, second)})`,
      `authorize ${id(3)} 20000 in, 16384 max out -> 402 refused: available ${left(first, second)}, requested ${third}`,
      `authorize ${id(1)} the same, again -> 200 the same hold, active, ${first}`,
      `serve ${id(1)} 500 tokens out -> usage event sent with its hold_id`,
      `release ${id(2)} upstream failed -> released`,
      `authorize ${id(4)} 20000 in, 16384 max out -> 201 held ${third} (available ${left(firstCost, third)})`,
      `serve ${id(4)} 1200 tokens out -> usage event sent with its hold_id`,
      `authorize ${id(5)} 1000 in, 1000 max out, ttl 1 s -> 201 held ${fifth} (available ${left(firstCost, fourthCost, fifth)})`,
    ]);
    expect(stdout).toContain(
      [
        `hold ${id(1)}: settled, held ${first} at ${firstCost} by event ${id(1)}`,
        `hold ${id(2)}: released, held ${second}`,
        `hold ${id(4)}: settled, held ${third} at ${fourthCost} by event ${id(4)}`,
        `hold ${id(5)}: expired, held ${fifth}`,
      ].join('\n'),
    );
    const balance = left(firstCost, fourthCost);
    expect(balance).toBe('0.001601');
    expect(stdout).toMatch(new RegExp(`^holds-demo-${run}: balance ${balance} USD, held 0, available ${balance}$`, 'm'));
    const state = await service.api.http().get(`/v1/accounts/holds-demo-${run}/balance`).set(ADMIN).expect(200);
    expect(state.body).toMatchObject({ balance, held: '0', available: balance });
  });

  it('refuses every request of an account with nothing available, serving none', async () => {
    const accountId = `gwh-empty-${Date.now().toString(36)}`;
    await service.api.http().post('/v1/accounts').set(ADMIN).send({ account_id: accountId, name: 'Empty' }).expect(201);
    const { code, stdout } = await runHolds({ ACCOUNT_ID: accountId });
    expect(code).toBe(0);
    const lines = stdout.split('\n').filter((line) => /^(authorize|serve|release) /.test(line));
    expect(lines).toHaveLength(5); // every authorization, and nothing served or released
    for (const line of lines) expect(line).toMatch(/-> 402 refused: available 0, requested 0\.\d+$/);
    expect(stdout).toMatch(new RegExp(`^${accountId}: balance 0 USD, held 0, available 0$`, 'm'));
  });

  it('exits 2 naming ADMIN_API_KEY when it is not set', async () => {
    const missing = await runHolds({ ADMIN_API_KEY: '' });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('ADMIN_API_KEY is required (the admin key of the billing API)\n');
  });
});
