import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { newWebhookSecret, sealSecret, secretsKeyFrom } from '@app/billing';
import { USAGE_JOB } from '@app/queue';
import { ENDPOINT, KNOBS, PRICES, SIZES } from '../config.js';
import { type Child, startWorkers, stopAll } from '../processes.js';
import { type LatencySummary, sleep, summarize } from '../stats.js';
import { type Received, WebhookReceiver } from '../webhook-receiver.js';
import { type Harness, startClock, type WindowNote } from './common.js';

export interface CrossingResult extends LatencySummary {
  warmup: number[];
  samples: number[];
  pauseMs: number;
  window: WindowNote;
}

export interface WebhookThroughputResult {
  events: number;
  accounts: number;
  ms: number;
  eventsPerSecond: number;
  /** Every event arrived, verified, once, and each account's in the order written. */
  inOrder: boolean;
  requests: number;
  window: WindowNote;
}

const WARMUP = 3;

/** An endpoint for `receiver`, written straight into the table (sealed with the run's SECRETS_KEY). */
async function endpointFor(h: Harness, client: pg.Client, receiver: WebhookReceiver, events: string[]): Promise<void> {
  const secret = newWebhookSecret();
  const endpointId = `we_${randomBytes(8).toString('hex')}`;
  await client.query('INSERT INTO webhook_endpoints (endpoint_id, url, events, secret_sealed, created_at) VALUES ($1, $2, $3, $4, now() - interval \'1 minute\')', [
    endpointId,
    receiver.url(),
    events,
    sealSecret(secretsKeyFrom(h.ctx.secretsKey), secret, endpointId),
  ]);
  receiver.trust(secret);
}

const clearWebhooks = (client: pg.Client) => client.query('TRUNCATE webhook_attempts, webhook_deliveries, webhook_streams, webhook_events, webhook_endpoints CASCADE');

/**
 * (k) A threshold crossing to its delivery, on an idle service: SIZES.crossingSamples accounts at
 * $0.01 with a low_balance_threshold of $0.005; one at a time, one usage event of $0.0121 each
 * (250,000 input and 30,000 output tokens) goes on the queue; the clock runs from before
 * queue.add until the bench's receiver (verifying with standardwebhooks) has acknowledged that
 * account's balance.low. The worker process prices it, the flush writes the event, the
 * dispatcher hears of it (LISTEN/NOTIFY) and sends it.
 */
export async function crossingScenario(h: Harness): Promise<CrossingResult> {
  await h.ctx.resetData(SIZES.accounts);
  const total = WARMUP + SIZES.crossingSamples;
  const client = new pg.Client({ connectionString: h.ctx.databaseUrl, application_name: 'billing-bench-webhooks' });
  await client.connect();
  const arrived = new Map<string, number>();
  const receiver = await new WebhookReceiver('', (r: Received) => {
    const data = JSON.parse(r.body).data as { account_id: string };
    if (!arrived.has(data.account_id)) arrived.set(data.account_id, r.atMs);
  }).start();
  const children: Child[] = [];
  const queue = h.ctx.queue('bench-crossing');
  try {
    await clearWebhooks(client);
    const { rows } = await client.query('SELECT account_id FROM account_balances ORDER BY account_id LIMIT $1', [total]);
    const accounts = rows.map((r: { account_id: string }) => r.account_id);
    await client.query('UPDATE account_balances SET balance = 0.01, low_balance_threshold = 0.005 WHERE account_id = ANY($1)', [accounts]);
    await endpointFor(h, client, receiver, ['balance.low']);
    children.push(...(await startWorkers(KNOBS.workers, h.ctx.serviceEnv(queue.name, KNOBS.logLevel), queue, KNOBS.cpuProfDir)));
    await sleep(500);
    const latencies: number[] = [];
    const clock = await startClock(h);
    for (let i = 0; i < total; i++) {
      const account = accounts[i];
      const started = performance.now();
      await queue.add(USAGE_JOB, {
        event_id: `bench-k-${h.ctx.run}-${i}`,
        account_id: account,
        model: PRICES.model,
        endpoint: ENDPOINT,
        occurred_at: new Date().toISOString(),
        usage: { prompt_tokens: 250_000, completion_tokens: 30_000, prompt_tokens_details: { cached_tokens: 0 } },
      });
      while (!arrived.has(account)) {
        if (performance.now() - started > 30_000) throw new Error(`balance.low of ${account} not delivered within 30 s`);
        await sleep(1);
      }
      latencies.push(arrived.get(account)! - started);
      await sleep(SIZES.crossingPauseMs);
    }
    const { window } = clock.stop();
    if (receiver.requests.some((r) => !r.verified)) throw new Error('a webhook did not verify');
    const samples = latencies.slice(WARMUP).map((ms) => Math.round(ms * 100) / 100);
    return { ...summarize(samples), warmup: latencies.slice(0, WARMUP).map((ms) => Math.round(ms * 100) / 100), samples, pauseMs: SIZES.crossingPauseMs, window };
  } finally {
    await stopAll(children);
    await receiver.stop();
    await client.end();
    await h.ctx.dropQueue(queue);
  }
}

/**
 * (l) SIZES.webhookEvents events through one endpoint: written into the outbox by SQL in one
 * transaction (balance.low events, spread round-robin over SIZES.webhookAccounts accounts, each
 * numbered), with the worker process(es) idle and the endpoint registered; the clock runs from
 * the commit until the receiver has acknowledged the last one. Checked: every event arrived,
 * verified, under its own webhook-id, and each account's in the order written.
 */
export async function webhookThroughputScenario(h: Harness): Promise<WebhookThroughputResult> {
  const events = SIZES.webhookEvents;
  const accounts = SIZES.webhookAccounts;
  const client = new pg.Client({ connectionString: h.ctx.databaseUrl, application_name: 'billing-bench-webhooks' });
  await client.connect();
  let done: () => void = () => undefined;
  const all = new Promise<void>((resolve) => (done = resolve));
  const seen = new Set<string>();
  const receiver = await new WebhookReceiver('', (r: Received) => {
    seen.add(r.id);
    if (seen.size === events) done();
  }).start();
  const children: Child[] = [];
  const queue = h.ctx.queue('bench-webhooks');
  try {
    await clearWebhooks(client);
    await endpointFor(h, client, receiver, ['balance.low']);
    children.push(...(await startWorkers(KNOBS.workers, h.ctx.serviceEnv(queue.name, KNOBS.logLevel), queue, KNOBS.cpuProfDir)));
    await sleep(500);
    const clock = await startClock(h);
    await client.query(
      `INSERT INTO webhook_events (type, account_id, data)
       SELECT 'balance.low', 'bench-l-' || (n % $2), jsonb_build_object('account_id', 'bench-l-' || (n % $2), 'balance', '0.5', 'low_balance_threshold', '1', 'n', n)
       FROM generate_series(0, $1 - 1) n ORDER BY n`,
      [events, accounts],
    );
    const timeout = setTimeout(() => done(), KNOBS.scenarioTimeoutMs);
    await all;
    clearTimeout(timeout);
    const { ms, window } = clock.stop();
    if (seen.size !== events) throw new Error(`${seen.size} of ${events} webhooks delivered within ${KNOBS.scenarioTimeoutMs} ms`);
    const delivered = receiver.delivered();
    const last = new Map<string, number>();
    let inOrder = delivered.length === events && receiver.requests.every((r) => r.verified);
    for (const m of delivered) {
      const n = m.data.n as number;
      const account = m.data.account_id as string;
      if ((last.get(account) ?? -1) > n) inOrder = false;
      last.set(account, n);
    }
    return { events, accounts, ms, eventsPerSecond: Math.round((events * 1000) / ms), inOrder, requests: receiver.requests.length, window };
  } finally {
    await stopAll(children);
    await receiver.stop();
    await client.end();
    await h.ctx.dropQueue(queue);
  }
}
