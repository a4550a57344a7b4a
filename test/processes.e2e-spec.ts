import { describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { DataSource } from 'typeorm';
import { createDataSource, dropDatabase, migrate } from '../libs/db/src/index.js';

// These start the built entry points (npm test builds dist/ first), as production does.
const node = (script: string, env: Record<string, string | undefined>) =>
  spawnSync(process.execPath, [script], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8', timeout: 20_000 });

function scratchUrl(): string {
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${url.pathname.slice(1)}_scratch_${randomBytes(3).toString('hex')}`;
  return url.toString();
}

describe('configuration', () => {
  it.each([
    ['dist/apps/api/src/main.js', { ADMIN_API_KEY: undefined }, 'Invalid configuration: ADMIN_API_KEY is required'],
    ['dist/apps/api/src/main.js', { ADMIN_API_KEY: 'long-enough-admin-key', PORT: '99999' }, 'Invalid configuration: PORT '],
    ['dist/apps/worker/src/main.js', { REDIS_URL: 'http://nope' }, 'Invalid configuration: REDIS_URL must be a redis:// or rediss:// URL'],
    ['dist/apps/cli/src/migrate.js', { DATABASE_URL: 'not a url' }, 'Invalid configuration: DATABASE_URL '],
    ['dist/apps/worker/src/main.js', { REDIS_URL: 'redis://h/abc' }, 'Invalid configuration: REDIS_URL must name its database as a number'],
    ['dist/apps/api/src/main.js', { NODE_ENV: 'production', ADMIN_API_KEY: 'dev-admin-key-change-me' }, 'Invalid configuration: ADMIN_API_KEY is the development value'],
    ['dist/apps/worker/src/main.js', { NODE_ENV: 'production', ADMIN_API_KEY: 'only-24-characters-long!' }, 'Invalid configuration: ADMIN_API_KEY must be at least 32 characters'],
  ])('%s exits non-zero with one line naming the variable', (script, env, message) => {
    const result = node(script, env);
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
  });
});

describe('npm run migrate', () => {
  it('creates the database, is safe to run again and concurrently, and every down() undoes its up()', async () => {
    const url = scratchUrl();
    try {
      const first = node('dist/apps/cli/src/migrate.js', { DATABASE_URL: url });
      expect(first.status).toBe(0);
      expect(first.stdout).toContain('created database');
      expect(first.stdout).toContain('applied 5 migration(s)');
      const again = await Promise.all([migrate(url), migrate(url)]);
      expect(again.map((r) => r.applied)).toEqual([[], []]);

      const ds: DataSource = createDataSource({ url, poolSize: 1 });
      await ds.initialize();
      try {
        for (let i = 0; i < 5; i++) await ds.undoLastMigration();
        const tables = await ds.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'typeorm_migrations'");
        expect(tables[0].n).toBe(0);
        expect(await ds.runMigrations()).toHaveLength(5);
        const prices = await ds.query('SELECT output_per_million::text AS p FROM rate_card_prices WHERE version = 1');
        expect(prices).toEqual([{ p: '0.070000000000' }]);
      } finally {
        await ds.destroy();
      }
    } finally {
      await dropDatabase(url);
    }
  });
});

describe('worker process', () => {
  it('boots, connects to Postgres and Redis, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['dist/apps/worker/src/main.js'], {
      env: { ...process.env, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker did not start: ${output}`)), 15_000);
      child.stdout.on('data', () => {
        if (output.includes('worker: consuming')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
  });
});

describe('api process', () => {
  it('drains on SIGTERM: a response in flight completes, then the process exits 0', async () => {
    const { scratchDatabase } = await import('./support/scratch.js');
    const scratch = await scratchDatabase();
    const { DataSource } = await import('typeorm');
    const db = await new DataSource({ type: 'postgres', url: scratch.url }).initialize();
    try {
      await db.query(`
        INSERT INTO usage_events (event_id, account_id, model_id, endpoint, occurred_at, rate_card_version, input_tokens,
          cached_input_tokens, output_tokens, cache_reported, cost, content_hash, usage, ledger_entry_id)
        SELECT 'drain-' || g, 'a', 'qwen3-5-4b', '/v1/chat/completions', '2026-07-01'::timestamptz + g * interval '1 second', 1, 1, 0, 1,
          true, 0.00000011, md5(g::text), '{}', 0
        FROM generate_series(1, 150000) g`);
      const child = spawn(process.execPath, ['dist/apps/api/src/main.js'], {
        env: { ...process.env, DATABASE_URL: scratch.url, PORT: '3931', LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      for (let i = 0; i < 100; i++) {
        if (await fetch('http://127.0.0.1:3931/health').then((r) => r.ok, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const response = await fetch('http://127.0.0.1:3931/v1/exports/usage.csv', { headers: { authorization: `Bearer ${process.env.ADMIN_API_KEY}` } });
      const reader = response.body!.getReader();
      let lines = 0;
      let signalled = false;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        for (const byte of value) if (byte === 10) lines++;
        if (!signalled) {
          signalled = true;
          child.kill('SIGTERM');
        }
      }
      expect(signalled).toBe(true);
      expect(lines).toBe(150_001);
      expect(await exit).toBe(0);
    } finally {
      await db.destroy();
      await scratch.drop();
    }
  });
});
