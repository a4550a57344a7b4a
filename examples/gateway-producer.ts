/**
 * A gateway's side of billing, small enough to read in one go (docs/integration.md explains it).
 *
 * It sends usage events of each of the four shapes, over the BullMQ queue (as `usage` and
 * `usage-batch` jobs) and over HTTP (POST /v1/usage-events), reads back what each one became
 * (GET /v1/usage-events/{id}), and prints what was billed and the account's balance.
 *
 *   npm run build && node dist/examples/gateway-producer.js
 *
 * Configuration, from the environment (the same names the service reads):
 *   API_URL        the billing API               default http://127.0.0.1:3000
 *   ADMIN_API_KEY  the operator's key            required
 *   REDIS_URL      the Redis the worker reads    default redis://127.0.0.1:6379
 *                  (a Redis Cluster: redis+cluster://host:port,host:port, with a QUEUE_PREFIX such as {billing})
 *   QUEUE_PREFIX   BullMQ key prefix             default bull
 *   USAGE_QUEUE    BullMQ queue name             default usage-events
 *   ACCOUNT_ID     the account to bill           default: a new account, given $1.00 of credit
 *
 * It uses only bullmq (and ioredis, which bullmq uses, for a cluster), decimal.js and Node's fetch
 * (through billing-api.ts, which the holds example shares): nothing from this repository's code.
 */
import { Queue } from 'bullmq';
import { Cluster } from 'ioredis';
import { Decimal } from 'decimal.js';
import { randomBytes } from 'node:crypto';
import { type Json, api, demoAccount, env, outcomeOf } from './billing-api.js';

env('ADMIN_API_KEY'); // before anything else: without it the example says so and exits 2
const REDIS_URL = env('REDIS_URL', 'redis://127.0.0.1:6379');
const QUEUE_PREFIX = env('QUEUE_PREFIX', 'bull');
const USAGE_QUEUE = env('USAGE_QUEUE', 'usage-events');

/**
 * BullMQ's connection for REDIS_URL: options for one server (redis://, rediss://), or a cluster
 * client on the listed nodes (redis+cluster://[user:pass@]host:port,..., rediss+cluster:// for TLS).
 */
function redisConnection(text: string) {
  const cluster = /^(rediss?)\+cluster:\/\/(?:([^@/]*)@)?([^/?#]+)\/?$/.exec(text);
  const [user, pass] = (cluster ? (cluster[2] ?? '') : '').split(':').map((part) => (part ? decodeURIComponent(part) : undefined));
  if (cluster) {
    const nodes = cluster[3].split(',').map((node) => {
      const [host, port] = node.split(':');
      return { host, port: Number(port || 6379) };
    });
    return new Cluster(nodes, { redisOptions: { username: user, password: pass, tls: cluster[1] === 'rediss' ? {} : undefined } });
  }
  const url = new URL(text);
  return {
    host: url.hostname,
    port: Number(url.port || 6379),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    tls: url.protocol === 'rediss:' ? {} : undefined,
  };
}

/** The `usage` object of each endpoint, as that endpoint returns it. */
const USAGE: Record<string, Json> = {
  // OpenAI-style chat: cached tokens are part of prompt_tokens; reasoning is part of completion_tokens.
  '/v1/chat/completions': {
    prompt_tokens: 1200,
    completion_tokens: 350,
    total_tokens: 1550,
    prompt_tokens_details: { cached_tokens: 1024 },
    completion_tokens_details: { reasoning_tokens: 200 },
  },
  // Responses API: the same, named input/output.
  '/v1/responses': { input_tokens: 4000, output_tokens: 500, total_tokens: 4500, input_tokens_details: { cached_tokens: 3000 }, output_tokens_details: { reasoning_tokens: 400 } },
  // Anthropic-style messages: input_tokens leaves out cache writes and cache reads.
  '/v1/messages': { input_tokens: 100, cache_creation_input_tokens: 200, cache_read_input_tokens: 5000, output_tokens: 50 },
  // Legacy completions, from an engine that does not report its cache (SGLang puts reasoning at the top level).
  '/v1/completions': { prompt_tokens: 10, completion_tokens: 1, reasoning_tokens: 0 },
};

interface Sent {
  eventId: string;
  via: string;
  endpoint: string;
}

async function main(): Promise<void> {
  const run = randomBytes(4).toString('hex');
  const accountId = await demoAccount('gateway-demo', run, '1.00');
  let n = 0;
  const event = (endpoint: string, usage: Json = USAGE[endpoint]!): Json => ({
    event_id: `gw-${run}-${++n}`,
    account_id: accountId,
    model: 'qwen3-5-4b',
    endpoint,
    occurred_at: new Date().toISOString(),
    usage,
    metadata: { example: 'gateway-producer' },
  });
  const sent: Sent[] = [];
  const remember = (via: string, events: Json[]) => events.forEach((e) => sent.push({ eventId: String(e.event_id), via, endpoint: String(e.endpoint) }));
  const endpoints = Object.keys(USAGE);

  // 1. The queue. One producer per process; every job may be delivered again: event ids make that harmless.
  const connection = redisConnection(REDIS_URL);
  const queue = new Queue(USAGE_QUEUE, { prefix: QUEUE_PREFIX, connection });
  try {
    for (const endpoint of endpoints) {
      const single = event(endpoint);
      await queue.add('usage', single);
      remember('queue usage', [single]);
    }
    const batch = endpoints.map((endpoint) => event(endpoint));
    await queue.add('usage-batch', { events: batch });
    remember('queue usage-batch', batch);
    // The same job again, as after a retry: nothing is billed twice.
    await queue.add('usage-batch', { events: batch });
    // A broken gateway in front of the engine: the total contradicts its parts.
    const inconsistent = event('/v1/chat/completions', { prompt_tokens: 10, completion_tokens: 5, total_tokens: 99 });
    await queue.add('usage', inconsistent);
    remember('queue usage', [inconsistent]);
  } finally {
    await queue.close();
    if (connection instanceof Cluster) await connection.quit();
  }

  // 2. HTTP: the same events, in one request; invalid ones are refused at once, the rest queued.
  const overHttp = [...endpoints.map((endpoint) => event(endpoint)), event('/v1/chat/completions', { input_tokens: 10, output_tokens: 5 })];
  const ingest = await api('POST', '/v1/usage-events', { events: overHttp });
  console.log(`POST /v1/usage-events: ${ingest.status} ${JSON.stringify(ingest.body)}`);
  if (ingest.status !== 202) throw new Error('the HTTP batch was not accepted');
  remember('http', overHttp);

  // 3. Read every outcome back. An event is 404 until a worker has taken it off the queue.
  console.log('\nevent_id            via                endpoint              status    tokens (in/cached/out)  cost or reason');
  let billed = new Decimal(0);
  for (const { eventId, via, endpoint } of sent) {
    const outcome = await outcomeOf(eventId);
    const tokens = outcome.tokens as { input: number; cached_input: number; output: number } | null;
    const shown = tokens ? `${tokens.input}/${tokens.cached_input}/${tokens.output}` : '-';
    console.log(`${eventId.padEnd(19)} ${via.padEnd(18)} ${endpoint.padEnd(21)} ${String(outcome.status).padEnd(9)} ${shown.padEnd(23)} ${outcome.cost ?? outcome.reason}`);
    if (outcome.status === 'priced') billed = billed.add(String(outcome.cost));
  }

  const balance = (await api('GET', `/v1/accounts/${accountId}/balance`)).body;
  console.log(`\nbilled ${billed.toFixed()} USD for ${sent.length} events to ${accountId}; balance ${balance.balance} ${balance.currency} (${balance.status})`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
