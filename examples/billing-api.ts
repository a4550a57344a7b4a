/**
 * What the gateway examples share: their configuration from the environment and one way to call
 * the billing API. Node's fetch only: nothing from this repository's code.
 */

export type Json = Record<string, unknown>;

/** A variable of the environment, or its fallback; without either the example exits 2 naming it. */
export const env = (name: string, fallback?: string): string => {
  const value = process.env[name] || fallback;
  if (value === undefined) {
    console.error(`${name} is required (the admin key of the billing API)`);
    process.exit(2);
  }
  return value;
};

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const API_URL = () => env('API_URL', 'http://127.0.0.1:3000').replace(/\/$/, '');

/** One call to the billing API; answers the status and the parsed body. A 503 is retried after its Retry-After. */
export async function api(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: Json }> {
  for (let attempt = 1; ; attempt++) {
    const response = await fetch(`${API_URL()}${path}`, {
      method,
      headers: { authorization: `Bearer ${env('ADMIN_API_KEY')}`, 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const parsed = (await response.json().catch(() => ({}))) as Json;
    if (response.status === 503 && attempt < 5) {
      const seconds = Number(response.headers.get('retry-after') ?? '1');
      console.log(`  ${method} ${path}: 503 (${parsed.detail}); retrying in ${seconds} s`);
      await sleep(seconds * 1000);
      continue;
    }
    return { status: response.status, body: parsed };
  }
}

/** The account to bill: ACCOUNT_ID, or a new one named after the run with `credit` of promotional credit. */
export async function demoAccount(prefix: string, run: string, credit: string): Promise<string> {
  if (process.env.ACCOUNT_ID) return process.env.ACCOUNT_ID;
  const accountId = `${prefix}-${run}`;
  const created = await api('POST', '/v1/accounts', { account_id: accountId, name: 'Gateway demo' });
  if (created.status !== 201) throw new Error(`creating ${accountId}: ${created.status} ${JSON.stringify(created.body)}`);
  const credited = await api('POST', `/v1/accounts/${accountId}/credits`, { amount: credit, kind: 'promotional' }, { 'idempotency-key': accountId });
  if (credited.status !== 201) throw new Error(`crediting ${accountId}: ${credited.status} ${JSON.stringify(credited.body)}`);
  return accountId;
}

/** GET /v1/usage-events/{id} until the event is priced or rejected (30 s at most). */
export async function outcomeOf(eventId: string): Promise<Json> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { status, body } = await api('GET', `/v1/usage-events/${encodeURIComponent(eventId)}`);
    if (status === 200) return body;
    if (status !== 404 || Date.now() > deadline) throw new Error(`${eventId}: ${status} ${JSON.stringify(body)}`);
    await sleep(100);
  }
}
