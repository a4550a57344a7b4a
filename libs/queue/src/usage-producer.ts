import { Logger, type OnApplicationShutdown } from '@nestjs/common';
import { Queue } from 'bullmq';
import { createRedisClient, type RedisClient } from './connection.js';
import { USAGE_BATCH_JOB, type UsageBatchJobData } from './jobs.js';

/** The batch was not enqueued: nothing of it was sent to Redis, or what was sent has been dropped. */
export class QueueUnavailableError extends Error {}

/** How long one enqueue may wait for Redis before the connection is dropped and the batch refused. */
export const ENQUEUE_TIMEOUT_MS = 5_000;

/**
 * The API's producer on USAGE_QUEUE, on a connection of its own that keeps nothing while Redis is
 * away: no offline queue (a command while disconnected fails at once instead of waiting in memory
 * to be sent on reconnect), nothing resent after a reconnect, and add() refuses before building the
 * job unless the connection is ready. So a refused batch is gone: the gateway keeps it and retries,
 * and Redis never receives it later behind the gateway's back. When Redis is up, add() is the same
 * single script call as before: the readiness check reads a local field.
 *
 * On a Redis Cluster the same holds: the cluster client has no offline queue either, and it
 * retries nothing on its own after a lost connection or while the cluster is down (a MOVED
 * redirection, which a node answers without running the command, is still followed at once).
 */
export class UsageProducer implements OnApplicationShutdown {
  private readonly logger = new Logger('UsageProducer');
  readonly queue: Queue;
  private readonly redis: RedisClient;
  private down = false;

  constructor(url: string, name: string, prefix: string) {
    this.redis = createRedisClient(url, {
      redis: {
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        // Commands already written when the connection closes fail then, instead of being kept for the next one.
        maxRetriesPerRequest: 0,
      },
      cluster: { enableOfflineQueue: false, retryDelayOnFailover: 0, retryDelayOnClusterDown: 0 },
    });
    this.redis.on('error', (error: Error) => {
      if (this.down) return;
      this.down = true;
      this.logger.warn(`Redis unreachable (${error.message}); refusing usage batches (503) until it is back`);
    });
    this.redis.on('ready', () => (this.down = false));
    // Not waiting for "ready" and not asking Redis its version at start: with no offline queue either
    // would fail (or hang) while Redis is away, and BullMQ would keep that failure for good.
    this.queue = new Queue(name, { connection: this.redis, prefix, skipWaitingForReady: true, skipVersionCheck: true });
    this.queue.on('error', () => undefined); // the connection's errors are logged above, once per outage
  }

  /** True while the connection is up; reading it costs nothing. */
  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  async addBatch(data: UsageBatchJobData): Promise<void> {
    if (!this.ready) throw new QueueUnavailableError(`Redis is ${this.redis.status}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ENQUEUE_TIMEOUT_MS)));
    try {
      const outcome = await Promise.race([this.queue.add(USAGE_BATCH_JOB, data), timeout]);
      if (outcome === 'timeout') {
        // A Redis that stopped answering: drop the connection, so the command is not kept to be answered
        // (or resent) later, and later batches are refused at once until it reconnects.
        this.redis.disconnect(true);
        throw new QueueUnavailableError(`Redis did not answer within ${ENQUEUE_TIMEOUT_MS} ms`);
      }
    } catch (error) {
      throw error instanceof QueueUnavailableError ? error : new QueueUnavailableError((error as Error).message);
    } finally {
      clearTimeout(timer);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close().catch(() => undefined);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
