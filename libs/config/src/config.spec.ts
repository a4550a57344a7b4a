import { describe, expect, it } from '@jest/globals';
import { loadConfig } from './config.js';

const valid = { ADMIN_API_KEY: 'dev-admin-key-0123456789' };

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    expect(loadConfig(valid)).toEqual({
      ...valid,
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/billing',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: 3000,
      USAGE_QUEUE: 'usage-events',
      MAINTENANCE_QUEUE: 'billing-maintenance',
      QUEUE_PREFIX: 'bull',
      LOG_LEVEL: 'info',
      RATE_LIMIT_PUBLIC_PER_MINUTE: 300,
      RATE_LIMIT_ACCOUNT_PER_MINUTE: 1200,
      WORKER_LOCK_DURATION_MS: 30000,
      WORKER_STALLED_INTERVAL_MS: 30000,
      GRANT_EXPIRY_INTERVAL_MS: 5000,
    });
  });

  it('names a missing ADMIN_API_KEY in one line', () => {
    expect(() => loadConfig({})).toThrow('Invalid configuration: ADMIN_API_KEY is required');
  });

  it('names a bad PORT', () => {
    expect(() => loadConfig({ ...valid, PORT: 'eighty' })).toThrow(/^Invalid configuration: PORT /);
  });

  it('names a DATABASE_URL that is not a postgres URL', () => {
    expect(() => loadConfig({ ...valid, DATABASE_URL: 'mysql://x' })).toThrow(
      'Invalid configuration: DATABASE_URL must be a postgres:// or postgresql:// URL',
    );
  });

  it('lets tools that never authenticate run without ADMIN_API_KEY', () => {
    expect(loadConfig({}, []).ADMIN_API_KEY).toBeUndefined();
  });
});
