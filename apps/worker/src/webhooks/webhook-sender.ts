import { lookup as dnsLookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { type ResolvedAddress, type Resolver, type TargetPolicy, checkEndpointUrl, hostOf, resolveTarget } from '@app/billing';

/** Most of an answer's body read (and thrown away); a receiver has nothing to tell us beyond its status. */
const MAX_ANSWER_BYTES = 64 * 1024;

export interface SendResult {
  statusCode: number | null;
  /** Why the try did not acknowledge the delivery; null for a 2xx. */
  error: string | null;
  durationMs: number;
}

export const resolveAll: Resolver = async (host) =>
  (await dnsLookup(host, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** A lookup that answers the one address already checked: the connection goes exactly there. */
const pinned = (target: ResolvedAddress): LookupFunction =>
  ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  }) as unknown as LookupFunction;

/**
 * POSTs one webhook. The URL and every address its host resolves to are checked again now (the
 * registration check alone would let a name be pointed at a private network later), and the
 * connection is made to the checked address. One deadline covers connecting, sending and reading
 * the answer; redirects are not followed (a 3xx is a failed try); only a 2xx acknowledges.
 */
export class WebhookSender {
  private readonly agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

  constructor(
    private readonly policy: TargetPolicy,
    private readonly timeoutMs: number,
    private readonly resolve: Resolver = resolveAll,
  ) {}

  async send(rawUrl: string, headers: Record<string, string>, body: string): Promise<SendResult> {
    const started = performance.now();
    const done = (statusCode: number | null, error: string | null): SendResult => ({ statusCode, error, durationMs: performance.now() - started });
    const checked = checkEndpointUrl(rawUrl, this.policy);
    if (!checked.ok) return done(null, `refused: the URL ${checked.message}`);
    const url = checked.url;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.timeoutMs);
    try {
      const target = await Promise.race([
        resolveTarget(url, this.policy, this.resolve),
        new Promise<never>((_, reject) => deadline.signal.addEventListener('abort', () => reject(new Error('timeout')))),
      ]);
      if (!target.ok) return done(null, `refused: ${target.message}`);
      const status = await this.post(url, target.address, headers, body, deadline.signal);
      if (status >= 200 && status < 300) return done(status, null);
      if (status >= 300 && status < 400) return done(status, `answered ${status}: redirects are not followed`);
      return done(status, `answered ${status}`);
    } catch (error) {
      if (deadline.signal.aborted) return done(null, `no answer within ${this.timeoutMs} ms`);
      const code = (error as { code?: string }).code;
      return done(null, code ? `${code}: ${(error as Error).message}` : (error as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  private post(url: URL, target: ResolvedAddress, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<number> {
    const client = url.protocol === 'https:' ? https : http;
    return new Promise<number>((resolve, reject) => {
      const request = client.request(
        {
          method: 'POST',
          host: hostOf(url),
          port: url.port || undefined,
          path: `${url.pathname}${url.search}`,
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
          agent: this.agents[url.protocol as 'http:' | 'https:'],
          lookup: pinned(target),
          signal,
        },
        (response) => {
          const status = response.statusCode ?? 0;
          let read = 0;
          response.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > MAX_ANSWER_BYTES) {
              response.destroy();
              resolve(status);
            }
          });
          response.on('end', () => resolve(status));
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  close(): void {
    for (const agent of Object.values(this.agents)) agent.destroy();
  }
}
