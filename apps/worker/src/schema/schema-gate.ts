import { type BeforeApplicationShutdown, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { connectDelayMs, isTransient, schemaDrift } from '@app/db';

/**
 * Holds the worker back until the database has every migration this build knows. A worker of a
 * new release started before `npm run migrate` would otherwise take jobs and fail them for good
 * (a table or column it writes is not there yet). It waits instead, logging each wait with backoff
 * (0.5 s doubling to 15 s), and starts consuming once the schema is current: every consumer starts
 * in onApplicationBootstrap, which Nest runs only after every onModuleInit has finished.
 */
@Injectable()
export class SchemaGate implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('SchemaGate');
  private stopping = false;

  constructor(private readonly db: DataSource) {}

  async onModuleInit(): Promise<void> {
    for (let attempt = 1; !this.stopping; attempt++) {
      const delay = connectDelayMs(attempt);
      let pending: string[];
      try {
        const drift = await schemaDrift(this.db);
        if (drift.unknown.length && attempt === 1) {
          this.logger.warn(`the database has migrations this worker does not know (${drift.unknown.join(', ')}): an older worker on a newer schema; stop it and start the new release`);
        }
        if (drift.pending.length === 0) return;
        pending = drift.pending;
      } catch (error) {
        if (!isTransient(error)) throw error;
        this.logger.warn(`could not read the schema version (${(error as Error).message}); checking again in ${delay / 1000} s (attempt ${attempt})`);
        await new Promise((resolve) => setTimeout(resolve, delay));
        continue;
      }
      this.logger.warn(
        `the database schema is behind this worker: ${pending.length} migration(s) pending (${pending.join(', ')}); waiting for npm run migrate, checking again in ${delay / 1000} s (attempt ${attempt})`,
      );
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** A worker told to stop while it waits stops waiting. */
  beforeApplicationShutdown(): void {
    this.stopping = true;
  }
}
