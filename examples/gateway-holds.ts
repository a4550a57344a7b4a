/**
 * A gateway that reserves before it serves (docs/integration.md, "Spend holds", explains it).
 *
 * Each request is authorized first with a hold on the most it can cost (its prompt, and all of its
 * max_tokens at the output rate); the model is called only once the hold is granted; the usage
 * event then carries the hold's id and settles it. A request that is not served releases its hold;
 * one the gateway abandons expires with its hold's ttl. On 402 the request is refused. Three
 * requests arrive together against an account with $0.003 left, so one does not fit.
 *
 *   npm run build && node dist/examples/gateway-holds.js
 *
 * Configuration, from the environment:
 *   API_URL        the billing API      default http://127.0.0.1:3000
 *   ADMIN_API_KEY  the operator's key   required
 *   ACCOUNT_ID     the account to bill  default: a new account, given $0.003 of credit
 *
 * Node's fetch only (through billing-api.ts): nothing from this repository's code.
 */
import { randomBytes } from 'node:crypto';
import { type Json, api, demoAccount, env, outcomeOf, sleep } from './billing-api.js';

env('ADMIN_API_KEY'); // before anything else: without it the example says so and exits 2

const MODEL = 'qwen3-5-4b';

interface Request {
  id: string;
  promptTokens: number;
  maxTokens: number;
}

const say = (step: string, request: Request, what: string, answer: string) =>
  console.log(`${step.padEnd(10)} ${request.id.padEnd(16)} ${what.padEnd(30)} -> ${answer}`);
const tokens = (r: Request) => `${r.promptTokens} in, ${r.maxTokens} max out`;

/**
 * Before calling the model: hold the most this request can cost. The request id is the hold id, so
 * asking again after a timeout answers the same hold (200) instead of holding twice.
 */
async function authorize(accountId: string, request: Request, ttlSeconds = 300): Promise<{ status: number; body: Json }> {
  return api('POST', `/v1/accounts/${accountId}/holds`, {
    hold_id: request.id,
    estimate: { model: MODEL, input_tokens: request.promptTokens, max_output_tokens: request.maxTokens },
    ttl_seconds: ttlSeconds,
  });
}

function authorized(request: Request, what: string, answer: { status: number; body: Json }): boolean {
  const { status, body } = answer;
  if (status === 201) say('authorize', request, what, `201 held ${body.amount} (available ${body.available})`);
  else if (status === 200) say('authorize', request, what, `200 the same hold, ${body.status}, ${body.amount}`);
  // 402: the account cannot pay for this request. Refuse it (the customer's 402 or 429), never serve it.
  else if (status === 402) say('authorize', request, what, `402 refused: available ${body.available}, requested ${body.requested}`);
  else throw new Error(`authorizing ${request.id}: ${status} ${JSON.stringify(body)}`);
  return status === 201 || status === 200;
}

/** After the model answered: the usage event, as always, with the hold's id. Billing settles the hold with it. */
async function bill(accountId: string, request: Request, completionTokens: number): Promise<void> {
  const event = {
    event_id: request.id,
    account_id: accountId,
    hold_id: request.id,
    model: MODEL,
    endpoint: '/v1/chat/completions',
    occurred_at: new Date().toISOString(),
    usage: { prompt_tokens: request.promptTokens, completion_tokens: completionTokens, prompt_tokens_details: { cached_tokens: 0 } },
  };
  const sent = await api('POST', '/v1/usage-events', { events: [event] });
  if (sent.status !== 202 || (sent.body.accepted as number) !== 1) throw new Error(`sending ${request.id}: ${sent.status} ${JSON.stringify(sent.body)}`);
  say('serve', request, `${completionTokens} tokens out`, 'usage event sent with its hold_id');
}

/** The request was not served (the upstream failed, the client went away): give the money back now. */
async function release(request: Request, why: string): Promise<void> {
  const { status, body } = await api('POST', `/v1/holds/${encodeURIComponent(request.id)}/release`);
  if (status !== 200) throw new Error(`releasing ${request.id}: ${status} ${JSON.stringify(body)}`);
  say('release', request, why, String(body.status));
}

async function showHold(request: Request): Promise<void> {
  const { body } = await api('GET', `/v1/holds/${encodeURIComponent(request.id)}`);
  const settled = body.status === 'settled' ? ` at ${body.settled_amount} by event ${body.settled_event_id}` : '';
  console.log(`hold ${request.id}: ${body.status}, held ${body.amount}${settled}`);
}

async function main(): Promise<void> {
  const run = randomBytes(4).toString('hex');
  const accountId = await demoAccount('holds-demo', run, '0.003');
  const request = (n: number, promptTokens: number, maxTokens: number): Request => ({ id: `gwh-${run}-${n}`, promptTokens, maxTokens });
  const [first, second, third] = [request(1, 12_000, 8_192), request(2, 8_000, 4_096), request(3, 20_000, 16_384)];

  const held = new Set<Request>();
  const ask = async (r: Request, what = tokens(r), ttlSeconds?: number) => {
    const ok = authorized(r, what, await authorize(accountId, r, ttlSeconds));
    if (ok) held.add(r);
    return ok;
  };

  // Three requests arrive together: each is authorized before the model is called.
  const [firstHeld, secondHeld] = [await ask(first), await ask(second)];
  await ask(third);
  // The answer to the first was lost on the way: asking again with the same id holds nothing more.
  if (firstHeld) await ask(first, 'the same, again');

  // The model answers the first; the second's upstream fails.
  if (firstHeld) await bill(accountId, first, 500);
  if (secondHeld) await release(second, 'upstream failed');
  if (firstHeld) await outcomeOf(first.id);

  // The third is sent again as a new request once the others are done: now it may fit.
  const retried = request(4, third.promptTokens, third.maxTokens);
  if (await ask(retried)) {
    await bill(accountId, retried, 1_200);
    await outcomeOf(retried.id);
  }

  // A request the gateway takes a hold for and then forgets: the hold stops counting at its
  // expires_at, exactly, with nothing to run.
  const abandoned = request(5, 1_000, 1_000);
  if (await ask(abandoned, `${tokens(abandoned)}, ttl 1 s`, 1)) await sleep(1_100);

  console.log('');
  for (const r of held) await showHold(r);
  const balance = (await api('GET', `/v1/accounts/${accountId}/balance`)).body;
  console.log(`\n${accountId}: balance ${balance.balance} ${balance.currency}, held ${balance.held}, available ${balance.available}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
