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
      PORTAL_FRAME_ANCESTORS: "'none'",
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

  it('takes a list of origins for PORTAL_FRAME_ANCESTORS, whitespace normalised', () => {
    expect(loadConfig({ ...valid, PORTAL_FRAME_ANCESTORS: " 'self'   https://app.example.com\thttps://*.example.org:8443 " }).PORTAL_FRAME_ANCESTORS).toBe(
      "'self' https://app.example.com https://*.example.org:8443",
    );
  });

  it.each([
    ['a directive break', "'self'; script-src *"],
    ['a second policy', "'self', https://evil.example"],
    ["'none' with a host", "'none' https://app.example.com"],
    ['a quoted keyword other than self', "'unsafe-inline'"],
    ['a path', 'https://app.example.com/embed'],
    ['a line break', "'self'\r\nSet-Cookie: x=1"],
  ])('refuses PORTAL_FRAME_ANCESTORS with %s', (_, value) => {
    expect(() => loadConfig({ ...valid, PORTAL_FRAME_ANCESTORS: value })).toThrow(/^Invalid configuration: PORTAL_FRAME_ANCESTORS must be 'none' or /);
  });

  it('keeps PORTAL_PUBLIC_URL without its trailing slash and refuses one with a query', () => {
    expect(loadConfig({ ...valid, PORTAL_PUBLIC_URL: 'https://billing.example.com/' }).PORTAL_PUBLIC_URL).toBe('https://billing.example.com');
    expect(() => loadConfig({ ...valid, PORTAL_PUBLIC_URL: 'https://billing.example.com/?a=1' })).toThrow(/^Invalid configuration: PORTAL_PUBLIC_URL /);
    expect(() => loadConfig({ ...valid, PORTAL_PUBLIC_URL: 'ftp://billing.example.com' })).toThrow(/^Invalid configuration: PORTAL_PUBLIC_URL /);
  });
});
