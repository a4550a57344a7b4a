import { describe, expect, it } from '@jest/globals';
import { loadConfig, trustProxy } from './config.js';

const SECRETS_KEY = Buffer.alloc(32, 7).toString('base64');
const valid = { ADMIN_API_KEY: 'dev-admin-key-0123456789', SECRETS_KEY };

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
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
      RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: 30,
      TRUST_PROXY: 'loopback',
      WORKER_LOCK_DURATION_MS: 30000,
      WORKER_STALLED_INTERVAL_MS: 30000,
      WORKER_FLUSH_LANES: 2,
      GRANT_EXPIRY_INTERVAL_MS: 5000,
      WORKER_BULK_TAKE: true,
      PORTAL_FRAME_ANCESTORS: "'none'",
      WEBHOOK_ALLOW_HTTP_HOSTS: '127.0.0.1,localhost',
      WEBHOOK_TIMEOUT_MS: 10000,
    });
  });

  it('names a missing or malformed SECRETS_KEY in one line, and lets the operator commands run without it', () => {
    expect(() => loadConfig({ ADMIN_API_KEY: valid.ADMIN_API_KEY })).toThrow('Invalid configuration: SECRETS_KEY is required');
    expect(() => loadConfig({}, ['SECRETS_KEY'])).toThrow('Invalid configuration: SECRETS_KEY is required');
    for (const bad of ['short', Buffer.alloc(31).toString('base64'), Buffer.alloc(33).toString('base64'), Buffer.alloc(32).toString('base64url')]) {
      expect(() => loadConfig({ ...valid, SECRETS_KEY: bad })).toThrow('Invalid configuration: SECRETS_KEY must be 32 bytes in base64 (openssl rand -base64 32)');
    }
    expect(loadConfig({}, []).SECRETS_KEY).toBeUndefined();
  });

  it('reads WEBHOOK_ALLOW_HTTP_HOSTS as a list of hosts, or none', () => {
    expect(loadConfig({ ...valid, WEBHOOK_ALLOW_HTTP_HOSTS: ' hooks.internal , 10.0.0.5,[::1] ' }).WEBHOOK_ALLOW_HTTP_HOSTS).toBe('hooks.internal , 10.0.0.5,[::1]');
    expect(loadConfig({ ...valid, WEBHOOK_ALLOW_HTTP_HOSTS: 'none' }).WEBHOOK_ALLOW_HTTP_HOSTS).toBe('none');
    expect(() => loadConfig({ ...valid, WEBHOOK_ALLOW_HTTP_HOSTS: 'http://x/' })).toThrow(/^Invalid configuration: WEBHOOK_ALLOW_HTTP_HOSTS must be a comma-separated list/);
    expect(() => loadConfig({ ...valid, WEBHOOK_TIMEOUT_MS: '50' })).toThrow(/^Invalid configuration: WEBHOOK_TIMEOUT_MS /);
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

  it('leaves the invoice seller unset by default', () => {
    const config = loadConfig(valid);
    expect([config.INVOICE_SELLER_NAME, config.INVOICE_SELLER_ADDRESS, config.INVOICE_SELLER_TAX_ID, config.INVOICE_SELLER_EMAIL]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('reads the seller address as lines separated by \\n or by line breaks', () => {
    const config = loadConfig({
      ...valid,
      INVOICE_SELLER_NAME: 'Example Billing B.V.',
      INVOICE_SELLER_ADDRESS: 'Herengracht 1\\n1015 BA Amsterdam\nThe Netherlands\\n',
      INVOICE_SELLER_TAX_ID: 'NL123456789B01',
      INVOICE_SELLER_EMAIL: 'invoices@example.org',
    });
    expect(config.INVOICE_SELLER_ADDRESS).toEqual(['Herengracht 1', '1015 BA Amsterdam', 'The Netherlands']);
    expect(config.INVOICE_SELLER_TAX_ID).toBe('NL123456789B01');
  });

  it('names a seller email that is not an email address', () => {
    expect(() => loadConfig({ ...valid, INVOICE_SELLER_NAME: 'X', INVOICE_SELLER_EMAIL: 'billing at example' })).toThrow(
      'Invalid configuration: INVOICE_SELLER_EMAIL must be an email address',
    );
  });

  it('refuses seller details without a seller name', () => {
    expect(() => loadConfig({ ...valid, INVOICE_SELLER_TAX_ID: 'NL123456789B01' })).toThrow(
      'Invalid configuration: INVOICE_SELLER_NAME is required when INVOICE_SELLER_TAX_ID is set',
    );
  });

  it('refuses a seller address of more than 8 lines', () => {
    const address = Array.from({ length: 9 }, (_, i) => `line ${i}`).join('\\n');
    expect(() => loadConfig({ ...valid, INVOICE_SELLER_NAME: 'X', INVOICE_SELLER_ADDRESS: address })).toThrow(
      'Invalid configuration: INVOICE_SELLER_ADDRESS must be at most 8 lines',
    );
  });
});

describe('ADMIN_API_KEY in production', () => {
  const production = { NODE_ENV: 'production' };

  it('refuses the development SECRETS_KEY from .env.example in one line', () => {
    expect(() => loadConfig({ ...production, ADMIN_API_KEY: 'k'.repeat(32), SECRETS_KEY: 'ZGV2LXNlY3JldHMta2V5LWNoYW5nZS1tZS0wMTIzNDU=' })).toThrow(
      'Invalid configuration: SECRETS_KEY is the development value from .env.example; NODE_ENV=production needs 32 random bytes (openssl rand -base64 32)',
    );
  });

  it('refuses the development value from .env.example in one line', () => {
    expect(() => loadConfig({ ...production, ADMIN_API_KEY: 'dev-admin-key-change-me' })).toThrow(
      'Invalid configuration: ADMIN_API_KEY is the development value from .env.example; NODE_ENV=production needs a random secret of at least 32 characters',
    );
  });

  it('refuses a key shorter than 32 characters, for the worker too (it does not require one)', () => {
    const short = { ...production, ADMIN_API_KEY: 'x'.repeat(31) };
    const message = 'Invalid configuration: ADMIN_API_KEY must be at least 32 characters when NODE_ENV=production';
    expect(() => loadConfig(short)).toThrow(message);
    expect(() => loadConfig(short, [])).toThrow(message);
  });

  it('takes a 32-character key', () => {
    expect(loadConfig({ ...production, ADMIN_API_KEY: 'k'.repeat(32), SECRETS_KEY }).ADMIN_API_KEY).toBe('k'.repeat(32));
  });

  it('keeps the development key working outside production', () => {
    expect(loadConfig({ ADMIN_API_KEY: 'dev-admin-key-change-me', SECRETS_KEY }).ADMIN_API_KEY).toBe('dev-admin-key-change-me');
    expect(loadConfig({ NODE_ENV: 'development', ADMIN_API_KEY: 'dev-admin-key-change-me', SECRETS_KEY }).ADMIN_API_KEY).toBe('dev-admin-key-change-me');
  });
});

describe('REDIS_URL', () => {
  it.each(['redis://h/abc', 'redis://h/1.5', 'redis://h/-1', 'redis://h/0/x', 'redis://h:port'])('refuses %s in one line', (url) => {
    expect(() => loadConfig({ ...valid, REDIS_URL: url })).toThrow(/^Invalid configuration: REDIS_URL /);
  });

  it('names the database number as the problem', () => {
    expect(() => loadConfig({ ...valid, REDIS_URL: 'redis://h/abc' })).toThrow(
      'Invalid configuration: REDIS_URL must name its database as a number (redis://host:port/0), got "/abc"',
    );
  });

  it.each(['redis://h', 'redis://h/', 'redis://h/0', 'redis://u:p@h:6380/15', 'rediss://h/2'])('takes %s', (url) => {
    expect(loadConfig({ ...valid, REDIS_URL: url }).REDIS_URL).toBe(url);
  });
});

describe('REDIS_URL of a Redis Cluster', () => {
  const cluster = { ...valid, QUEUE_PREFIX: '{billing}' };

  it.each([
    ['redis+cluster://10.0.0.1:7000', '{billing}'],
    ['redis+cluster://u:p%40ss@10.0.0.1:7000,10.0.0.2:7001,redis-2.internal', 'bull{billing}'],
    ['rediss+cluster://[fd00::1]:7000/', '{billing}:prod'],
  ])('takes %s with QUEUE_PREFIX %s', (url, prefix) => {
    expect(loadConfig({ ...valid, REDIS_URL: url, QUEUE_PREFIX: prefix })).toMatchObject({ REDIS_URL: url, QUEUE_PREFIX: prefix });
  });

  it.each(['bull', 'bull{}', '{billing', 'bill}ing{'])('refuses QUEUE_PREFIX %j without a hash tag, in one line naming it', (prefix) => {
    expect(() => loadConfig({ ...valid, REDIS_URL: 'redis+cluster://h:7000', QUEUE_PREFIX: prefix })).toThrow(
      `Invalid configuration: QUEUE_PREFIX must hold a hash tag such as {billing} when REDIS_URL is a Redis Cluster (every key of a queue must be in one slot), got ${JSON.stringify(prefix)}`,
    );
  });

  it('takes the same hash-tagged prefix with one server', () => {
    expect(loadConfig({ ...valid, QUEUE_PREFIX: '{billing}' }).QUEUE_PREFIX).toBe('{billing}');
  });

  it.each([
    ['redis+cluster://', 'must list the cluster\'s nodes as host:port separated by commas, got ""'],
    ['redis+cluster://h:7000,,h:7001', 'must list the cluster\'s nodes as host:port separated by commas, got ""'],
    ['redis+cluster://h:70000', 'must list the cluster\'s nodes as host:port separated by commas, got "h:70000"'],
    ['redis+cluster://h:7000/2', 'must not name a database, query or fragment with redis+cluster:// (a Redis Cluster has database 0 only)'],
    ['redis+cluster://h:7000?x=1', 'must not name a database, query or fragment with redis+cluster:// (a Redis Cluster has database 0 only)'],
    ['http+cluster://h:7000', 'must be a redis:// or rediss:// URL, or redis+cluster:// (rediss+cluster://) with the nodes of a Redis Cluster'],
  ])('refuses %s in one line', (url, message) => {
    expect(() => loadConfig({ ...cluster, REDIS_URL: url })).toThrow(`Invalid configuration: REDIS_URL ${message}`);
  });
});

describe('WORKER_BULK_TAKE', () => {
  it.each([
    ['on', true],
    ['off', false],
  ])('reads %s', (value, expected) => {
    expect(loadConfig({ ...valid, WORKER_BULK_TAKE: value }).WORKER_BULK_TAKE).toBe(expected);
  });

  it('refuses anything else in one line', () => {
    expect(() => loadConfig({ ...valid, WORKER_BULK_TAKE: 'false' })).toThrow('Invalid configuration: WORKER_BULK_TAKE must be on or off');
  });
});

describe('TRUST_PROXY', () => {
  it.each([
    ['loopback', ['loopback']],
    ['loopback, 10.0.0.0/8, fd00::/8', ['loopback', '10.0.0.0/8', 'fd00::/8']],
    ['192.168.1.7,uniquelocal', ['192.168.1.7', 'uniquelocal']],
    ['2', 2],
    ['false', false],
  ])('reads %j as %j', (value, expected) => {
    expect(trustProxy(value)).toEqual(expected);
    expect(loadConfig({ ...valid, TRUST_PROXY: value }).TRUST_PROXY).toBe(value);
  });

  it.each(['true', 'banana', '10.0.0.0/33', '10.0.0.1/8/1', 'loopback,,10.0.0.1', '300'])('refuses %j in one line naming it', (value) => {
    expect(() => loadConfig({ ...valid, TRUST_PROXY: value })).toThrow(/^Invalid configuration: TRUST_PROXY must be false, a number of proxies, or a comma-separated list/);
  });
});
