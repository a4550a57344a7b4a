import { accountId, prng } from './events.js';
import { httpRequest } from './http.js';
import { sleep } from './stats.js';

/**
 * Scenario (e): one client reading GET /v1/accounts/{id}/balance in a loop (a random account each
 * time, one request in flight, pauseMs between reads), recording each latency.
 */
export class BalanceReader {
  readonly latencies: number[] = [];
  errors = 0;
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    private readonly opts: { port: number; adminKey: string; accounts: number; pauseMs: number },
  ) {}

  start(): void {
    const random = prng(7);
    this.loop = (async () => {
      while (!this.stopped) {
        const id = accountId(Math.floor(random() * this.opts.accounts));
        const started = performance.now();
        const response = await httpRequest({
          port: this.opts.port,
          method: 'GET',
          path: `/v1/accounts/${id}/balance`,
          headers: { authorization: `Bearer ${this.opts.adminKey}` },
        }).catch(() => ({ status: 0, body: '' }));
        const ms = performance.now() - started;
        if (response.status === 200 && typeof (JSON.parse(response.body) as { balance?: unknown }).balance === 'string') this.latencies.push(ms);
        else this.errors += 1;
        if (this.opts.pauseMs) await sleep(this.opts.pauseMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}
