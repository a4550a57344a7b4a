/**
 * A task a worker runs at start and then again and again, never two runs at once: each run
 * answers how long to wait before the next (so a failed run can come back sooner than a
 * successful one). stop() ends the loop and waits for a run in progress; none starts after it.
 *
 * A run is expected to catch and log its own failures. One that rejects all the same is tried
 * again after `afterRejectionMs`, so the loop never dies quietly.
 */
export class Periodic {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly run: () => Promise<number>,
    private readonly afterRejectionMs: number,
  ) {}

  start(): void {
    this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private tick(): void {
    this.running = this.run()
      .catch(() => this.afterRejectionMs)
      .then((delayMs) => {
        this.running = undefined;
        // unref: a pending wait never keeps the process alive on its own.
        if (!this.stopped) this.timer = setTimeout(() => this.tick(), delayMs).unref();
      });
  }
}
