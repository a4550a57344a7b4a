import { describe, expect, it } from '@jest/globals';
import { Cluster, Redis } from 'ioredis';
import { CLUSTER_FAILOVER_PATIENCE, createRedisClient, redisConnection } from './connection.js';

describe('redisConnection', () => {
  it('reads host, port, credentials and database number', () => {
    expect(redisConnection('redis://u%40x:p%3Aw@cache.internal:6380/7')).toMatchObject({
      host: 'cache.internal',
      port: 6380,
      username: 'u@x',
      password: 'p:w',
      db: 7,
      tls: undefined,
    });
    expect(redisConnection('rediss://h')).toMatchObject({ port: 6379, db: 0, tls: {} });
  });

  it('refuses a database that is not a number instead of handing ioredis NaN', () => {
    expect(() => redisConnection('redis://h/abc')).toThrow('REDIS_URL must name its database as a number (redis://host:port/0), got "/abc"');
  });

  it('has no options for a cluster: its clients come from createRedisClient', () => {
    expect(() => redisConnection('redis+cluster://h:7000')).toThrow('REDIS_URL names a Redis Cluster: connect with createRedisClient()');
  });
});

describe('createRedisClient', () => {
  it('opens one server for redis://', () => {
    const client = createRedisClient('redis://h:6380/3', { redis: { lazyConnect: true } });
    expect(client).toBeInstanceOf(Redis);
    expect((client as Redis).options).toMatchObject({ host: 'h', port: 6380, db: 3, maxRetriesPerRequest: null });
  });

  it('opens a cluster on the seed nodes of redis+cluster://, with the credentials and TLS on each node and patience through a failover', () => {
    const client = createRedisClient('rediss+cluster://u:p%40w@a:7000,b', { cluster: { lazyConnect: true } }) as Cluster;
    expect(client).toBeInstanceOf(Cluster);
    expect((client as unknown as { startupNodes: unknown }).startupNodes).toEqual([{ host: 'a', port: 7000 }, { host: 'b', port: 6379 }]);
    expect(client.options).toMatchObject({ ...CLUSTER_FAILOVER_PATIENCE, redisOptions: { username: 'u', password: 'p@w', tls: {}, maxRetriesPerRequest: null } });
  });
});
