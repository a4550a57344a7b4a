import { describe, expect, it } from '@jest/globals';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { DataSource } from 'typeorm';
import { createDataSource, dropDatabase, migrate } from '../libs/db/src/index.js';
import { migrations } from '../migrations/index.js';
import { uniqueQueueName } from './support/api.js';
import { freePort } from './support/ports.js';

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
    ['dist/apps/worker/src/main.js', { REDIS_URL: 'redis+cluster://127.0.0.1:7000', QUEUE_PREFIX: 'bull' }, 'Invalid configuration: QUEUE_PREFIX must hold a hash tag such as {billing} when REDIS_URL is a Redis Cluster'],
    ['dist/apps/api/src/main.js', { ADMIN_API_KEY: 'long-enough-admin-key', REDIS_URL: 'redis+cluster://127.0.0.1:7000/1' }, 'Invalid configuration: REDIS_URL must not name a database'],
    ['dist/apps/worker/src/main.js', { WORKER_BULK_TAKE: 'no' }, 'Invalid configuration: WORKER_BULK_TAKE must be on or off'],
    ['dist/apps/api/src/main.js', { NODE_ENV: 'production', ADMIN_API_KEY: 'dev-admin-key-change-me' }, 'Invalid configuration: ADMIN_API_KEY is the development value'],
    ['dist/apps/worker/src/main.js', { NODE_ENV: 'production', ADMIN_API_KEY: 'only-24-characters-long!' }, 'Invalid configuration: ADMIN_API_KEY must be at least 32 characters'],
    ['dist/apps/worker/src/main.js', {}, 'Invalid configuration: SECRETS_KEY is required'],
    ['dist/apps/api/src/main.js', { ADMIN_API_KEY: 'long-enough-admin-key' }, 'Invalid configuration: SECRETS_KEY is required'],
    ['dist/apps/api/src/main.js', { ADMIN_API_KEY: 'long-enough-admin-key', SECRETS_KEY: 'c2hvcnQ=' }, 'Invalid configuration: SECRETS_KEY must be 32 bytes in base64'],
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
      expect(first.stdout).toContain(`applied ${migrations.length} migration(s)`);
      const again = await Promise.all([migrate(url), migrate(url)]);
      expect(again.map((r) => r.applied)).toEqual([[], []]);

      const ds: DataSource = createDataSource({ url, poolSize: 1 });
      await ds.initialize();
      try {
        for (let i = 0; i < migrations.length; i++) await ds.undoLastMigration();
        const tables = await ds.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'typeorm_migrations'");
        expect(tables[0].n).toBe(0);
        expect(await ds.runMigrations({ transaction: 'each' })).toHaveLength(migrations.length);
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
    let stdout = '';
    child.stdout.on('data', (chunk) => (output += chunk) && (stdout += chunk));
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
    // stdout is a pipe here, not a terminal: JSON lines.
    expect(stdout.trim().split('\n').map((line) => JSON.parse(line).name)).toContain('worker');
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
          cached_input_tokens, output_tokens, cache_reported, cost, usage, ledger_entry_id)
        SELECT 'drain-' || g, 'a', 'qwen3-5-4b', '/v1/chat/completions', '2026-07-01'::timestamptz + g * interval '1 second', 1, 1, 0, 1,
          true, 0.00000011, '{}', 0
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

  it.each([
    ['info', 1],
    ['warn', 0],
  ])('at LOG_LEVEL=%s writes %i line(s) per request, with the Authorization header redacted', async (level, lines) => {
    const { startApiProcess } = await import('./support/api-process.js');
    const api = await startApiProcess({ LOG_LEVEL: level });
    try {
      const response = await fetch(`${api.base}/v1/rate-cards`, { headers: { authorization: `Bearer ${process.env.ADMIN_API_KEY}` } });
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      expect(await api.stop()).toBe(0);
    }
    const requestLines = api
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { req?: { method: string; url: string; headers: Record<string, string> }; res?: { statusCode: number }; msg: string })
      .filter((line) => line.req);
    expect(requestLines).toHaveLength(lines);
    if (lines) {
      expect(requestLines[0]).toMatchObject({ req: { method: 'GET', url: '/v1/rate-cards', headers: { authorization: '[Redacted]' } }, res: { statusCode: 200 } });
      expect(requestLines[0].msg).toMatch(/^GET \/v1\/rate-cards 200 \d+ ms$/);
    }
  });
});

describe('npm start', () => {
  // What `npm start` runs once migrations are applied (npm test has built dist/ already).
  const serve = (JSON.parse(readFileSync('package.json', 'utf8')).scripts.start as string).split(' && ').slice(1).join(' && ');

  /** Runs `command` with a terminal as stdout (util-linux `script`) until it has printed each of `started`; answers what it printed. */
  async function inTerminal(command: string, started: RegExp[], env: Record<string, string>): Promise<string[]> {
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, PATH: `${resolvePath('node_modules/.bin')}:${process.env.PATH}`, LOG_LEVEL: 'info', USAGE_QUEUE: uniqueQueueName(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise<void>((done) => child.on('exit', () => done()));
    try {
      const deadline = Date.now() + 20_000;
      while (!started.every((pattern) => pattern.test(output))) {
        if (Date.now() > deadline) throw new Error(`${command} did not start: ${output}`);
        await new Promise((done) => setTimeout(done, 50));
      }
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    }
    // eslint-disable-next-line no-control-regex
    const ours = (line: string) => line.trim() !== '' && !line.startsWith('Session terminated'); // script's own goodbye
    return output.replace(/\u001b\[[0-9;]*m/g, '').split(/\r?\n/).filter(ours);
  }

  it('prints readable log lines in a terminal, naming the process', async () => {
    const port = await freePort();
    const lines = await inTerminal(serve, [/api: listening/, /worker: consuming/], { PORT: String(port) });
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\[\\d{2}:\\d{2}:\\d{2}\\.\\d{3}\\] INFO \\(api\\): api: listening on :${port}$`)));
    expect(lines).toContainEqual(expect.stringMatching(/^\[[\d:.]+\] INFO \(worker\): worker: consuming /));
    expect(lines.filter((line) => line.startsWith('{'))).toEqual([]);
  });

  it('keeps the logs JSON lines under NODE_ENV=production, terminal or not', async () => {
    const lines = await inTerminal('node dist/apps/worker/src/main.js', [/worker: consuming/], { NODE_ENV: 'production' });
    const records = lines.map((line) => JSON.parse(line) as { name: string; msg: string; level: number });
    expect(records).toContainEqual(expect.objectContaining({ name: 'worker', level: 30, msg: expect.stringMatching(/^worker: consuming /) }));
  });
});
