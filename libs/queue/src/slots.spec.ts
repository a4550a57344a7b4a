import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Cluster, Redis } from 'ioredis';
import { BulkJobs } from './bulk-jobs.js';
import { MetricsStore } from './metrics.js';
import { keySlot, prefixSlot } from './slots.js';

describe('prefixSlot', () => {
  it('is the slot of the hash tag, for every key that starts with the prefix, whatever follows (braces too)', () => {
    const slot = prefixSlot('{billing}');
    expect(slot).toBe(keySlot('billing'));
    fc.assert(
      fc.property(fc.string(), (rest) => {
        expect(keySlot(`{billing}:usage-events:${rest}`)).toBe(slot);
        expect(keySlot(`prod{billing}:usage-events:${rest}:lock`)).toBe(slot);
      }),
    );
  });

  it('is null without a whole hash tag: such keys are placed each by its own text', () => {
    for (const prefix of ['bull', 'bull{}', '{bull', 'bu}ll{']) expect(prefixSlot(prefix)).toBeNull();
    expect(keySlot('bull:usage-events:wait')).not.toBe(keySlot('bull:usage-events:active'));
  });

  it('throws for a key given that is not in the slot', () => {
    expect(() => prefixSlot('{billing}', ['{billing}:q:wait', 'other:q:active'])).toThrow('key "other:q:active" is not in slot');
  });
});

describe('the bulk taker on a Redis Cluster', () => {
  const cluster = () => new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });

  it('puts every key its scripts touch in the slot of the prefix', () => {
    const bulk = new BulkJobs(cluster(), '{billing}', 'usage-events', 'usage');
    expect(bulk.slot).toBe(keySlot('billing'));
  });

  it('refuses a prefix without a hash tag, whose keys would be spread over slots', () => {
    expect(() => new BulkJobs(cluster(), 'bull', 'usage-events', 'usage')).toThrow(
      'QUEUE_PREFIX "bull" has no hash tag: on a Redis Cluster the bulk taker\'s keys would be spread over slots',
    );
  });

  it('takes any prefix on one server', () => {
    expect(new BulkJobs(new Redis({ lazyConnect: true }), 'bull', 'usage-events', 'usage').slot).toBeNull();
  });

  it('keeps the metrics hash in the queue\'s slot, so one MULTI updates it', () => {
    expect(keySlot(MetricsStore.key('{billing}'))).toBe(keySlot('billing'));
  });
});
