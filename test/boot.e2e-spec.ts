import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { freePort } from './support/ports.js';
import { until } from './support/until.js';

// The built entry points (npm test builds dist/ first), as `npm start` runs them.

/** A TCP port that forwards to the test Postgres once opened: Postgres "comes up" when open() is called. */
async function latePostgres(): Promise<{ url: string; open: () => Promise<void>; close: () => Promise<void> }> {
  const target = new URL(process.env.DATABASE_URL!);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => sockets.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  // Nothing listens there until open().
  const port = await freePort();
  const url = new URL(target);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    open: () => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    close: async () => {
      for (const s of sockets) s.destroy();
      if (server.listening) await new Promise((resolve) => server.close(resolve));
    },
  };
}

function start(script: string, env: Record<string, string>) {
  const child = spawn(process.execPath, [script], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, output: () => output };
}

describe('Postgres down at boot', () => {
  it('migrate, the API and the worker wait for it with backoff, logging each wait, and start once it is up', async () => {
    const postgres = await latePostgres();
    const env = { DATABASE_URL: postgres.url, PORT: '3937' };
    const processes = [start('dist/apps/cli/src/migrate.js', env), start('dist/apps/api/src/main.js', env), start('dist/apps/worker/src/main.js', env)];
    try {
      // Down for longer than the old 5 x 1 s (and long enough for three waits after a slow start).
      await new Promise((resolve) => setTimeout(resolve, 8_000));
      for (const p of processes) {
        expect(p.child.exitCode).toBeNull();
        const waits = p.output().match(/Postgres is not reachable \([^)]*ECONNREFUSED[^)]*\); retrying in [\d.]+ s \(attempt \d+\)/g) ?? [];
        if (waits.length < 3) throw new Error(`only ${waits.length} waits logged by ${p.child.spawnargs[1]}:\n${p.output()}`);
      }
      await postgres.open();
      const [migrate, api, worker] = processes;
      expect(await migrate.exited).toBe(0);
      expect(migrate.output()).toContain('is up to date');
      await until(() => fetch('http://127.0.0.1:3937/health').then((r) => r.ok, () => false), 'the API to answer /health', 30_000);
      await until(() => worker.output().includes('worker: consuming'), 'the worker to start consuming', 30_000);
    } finally {
      for (const p of processes) p.child.kill('SIGTERM');
      await Promise.all(processes.map((p) => p.exited));
      await postgres.close();
    }
  }, 60_000);
});
