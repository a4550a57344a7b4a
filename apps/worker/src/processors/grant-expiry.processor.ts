import { type BeforeApplicationShutdown, Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { GrantsService } from '@app/db';
import { Periodic } from './periodic.js';

/**
 * Ends grants at their expires_at: every GRANT_EXPIRY_INTERVAL_MS, and at start (catching up on
 * whatever came due while no worker ran), each worker expires what is due, batch after batch.
 * The work is claimed in Postgres (grant rows locked with SKIP LOCKED), not through Redis: any
 * number of workers share it, a killed worker's transaction rolls back and the next run takes its
 * grants again, and expiry goes on while Redis is down.
 *
 * Every EXPIRING_SCAN_EVERY runs (a minute, by default), and at start, it also looks for grants
 * that expire within 7 days and sends credits.expiring for each, once.
 */
/** Expiry runs per scan for credits.expiring: once a minute at the default GRANT_EXPIRY_INTERVAL_MS. */
export const EXPIRING_SCAN_EVERY = 12;

@Injectable()
export class GrantExpiryProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('GrantExpiry');
  private readonly periodic: Periodic;
  private runs = 0;

  constructor(
    private readonly grants: GrantsService,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.periodic = new Periodic(() => this.run(), config.GRANT_EXPIRY_INTERVAL_MS);
  }

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  private async run(): Promise<number> {
    try {
      const started = performance.now();
      const run = await this.grants.expireAllDue();
      if (run.expired) this.logger.log({ msg: 'grants expired', ...run, ms: Math.round(performance.now() - started) });
      if (this.runs++ % EXPIRING_SCAN_EVERY === 0) {
        const noticed = await this.grants.noticeExpiring();
        if (noticed.events) this.logger.log({ msg: 'credits.expiring sent', ...noticed });
      }
    } catch (error) {
      this.logger.warn(`grant expiry failed (${(error as Error).message}); retrying in ${this.config.GRANT_EXPIRY_INTERVAL_MS} ms`);
    }
    return this.config.GRANT_EXPIRY_INTERVAL_MS;
  }
}
