import type { ConnectionOptions } from 'bullmq';
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { redisTarget } from '@app/config';

/** A connection to REDIS_URL: one server, or a Redis Cluster. Both run the same commands and scripts. */
export type RedisClient = Redis | Cluster;

/**
 * ioredis options for one Redis server from REDIS_URL (`redis://[user:pass@]host:port[/db]`,
 * `rediss://` for TLS). maxRetriesPerRequest must be null for BullMQ workers' blocking commands;
 * commands wait for a reconnect instead of failing, so a Redis restart is survived without
 * intervention. A cluster URL has no such options: use createRedisClient.
 */
export function redisConnection(url: string): ConnectionOptions {
  return serverOptions(url) as ConnectionOptions;
}

function serverOptions(url: string): RedisOptions {
  const target = redisTarget(url);
  if (target.cluster) throw new Error('REDIS_URL names a Redis Cluster: connect with createRedisClient()');
  const parsed = new URL(url);
  const db = parsed.pathname.replace(/^\//, '');
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: db ? Number(db) : 0,
    tls: parsed.protocol === 'rediss:' ? {} : undefined,
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
  };
}

export interface RedisClientOptions {
  /** Options of each server connection (for a cluster: of the connection to each node). */
  redis?: RedisOptions;
  /** Options of the cluster client itself; ignored for one server. */
  cluster?: Omit<ClusterOptions, 'redisOptions'>;
}

/**
 * How a cluster client waits out a failover: a command that meets a lost master, or a cluster down
 * while a replica is elected, is sent again every 300 ms, up to 200 times (about a minute; a
 * failover takes cluster-node-timeout, 15 s by default, plus the election). ioredis's own default
 * gives up after 16 tries of 100 ms, and BullMQ does not take the error it then throws ("Too many
 * Cluster redirections") for a connection error: a job whose completion met it would be marked
 * failed although its events were billed.
 */
export const CLUSTER_FAILOVER_PATIENCE = { retryDelayOnFailover: 300, retryDelayOnClusterDown: 300, maxRedirections: 200 } satisfies ClusterOptions;

/**
 * A client on REDIS_URL, which its creator closes. For a Redis Cluster it is an ioredis Cluster on
 * the seed nodes of the URL, which follows the slots as they move and a replica as it takes over.
 * BullMQ takes either: a Queue uses it as it is, a Worker opens copies of its own.
 */
export function createRedisClient(url: string, { redis = {}, cluster = {} }: RedisClientOptions = {}): RedisClient {
  const target = redisTarget(url);
  if (!target.cluster) return new Redis({ ...serverOptions(url), ...redis });
  return new Cluster(target.nodes, {
    ...CLUSTER_FAILOVER_PATIENCE,
    ...cluster,
    redisOptions: {
      username: target.username,
      password: target.password,
      tls: target.tls ? {} : undefined,
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      ...redis,
    },
  });
}

/** The nodes that hold data: the server itself, or each master of a cluster (once the client knows them). */
export async function dataNodes(client: RedisClient): Promise<Redis[]> {
  if (!(client instanceof Cluster)) return [client];
  if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
  return client.nodes('master');
}
