import { describe, expect, it } from '@jest/globals';
import { redisConnection } from './connection.js';

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
});
