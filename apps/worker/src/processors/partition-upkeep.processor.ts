import { type BeforeApplicationShutdown, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { UsageRepository } from '@app/db';
import { Periodic } from './periodic.js';

/** Month partitions of usage_events exist this far ahead (the current month, then these). */
export const PARTITION_MONTHS_AHEAD = 3;
const DAY_MS = 86_400_000;
const RETRY_MS = 60_000;

/**
 * Keeps the month partitions of usage_events created ahead of time, with no outside scheduler:
 * every worker checks at start and then daily (one at a time: the SQL function takes a lock). An
 * event whose month has no partition yet is not lost: it waits in the default partition and is
 * moved into its month when the partition is made.
 */
@Injectable()
export class PartitionUpkeepProcessor implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('PartitionUpkeep');
  private readonly periodic = new Periodic(() => this.run(), RETRY_MS);

  constructor(private readonly usage: UsageRepository) {}

  onApplicationBootstrap(): void {
    this.periodic.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.periodic.stop();
  }

  private async run(): Promise<number> {
    try {
      const made = await this.usage.ensurePartitions(PARTITION_MONTHS_AHEAD);
      if (made) this.logger.log(`created ${made} month partition(s) of usage_events`);
      return DAY_MS;
    } catch (error) {
      this.logger.warn(`partition upkeep failed (${(error as Error).message}); retrying in ${RETRY_MS / 1000} s`);
      return RETRY_MS;
    }
  }
}
