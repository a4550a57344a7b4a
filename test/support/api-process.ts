import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ApiProcess {
  /** http://127.0.0.1:<port> */
  base: string;
  /** Everything the process has written so far (its JSON log lines), stdout and stderr. */
  output: () => string;
  /** SIGTERM (SIGKILL after 10 s); resolved with the exit code once it has exited (null: killed by a signal). */
  stop: () => Promise<number | null>;
  /** SIGKILL: the process dies where it stands, as in a crash; resolved once it has exited. */
  kill: () => Promise<void>;
}

/**
 * The built API (dist/apps/api/src/main.js, as production runs it, serving the built portal)
 * as a child process on a free port, with this run's database and Redis; resolved once /health
 * answers. Its log is kept so a test can read what it wrote. `port`: a given one (a restart on
 * the address clients already use); a free one otherwise.
 */
export async function startApiProcess(env: Record<string, string> = {}, port?: number): Promise<ApiProcess> {
  port ??= await freePort();
  const child: ChildProcess = spawn(process.execPath, ['dist/apps/api/src/main.js'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  child.stdout!.on('data', (b: Buffer) => chunks.push(b.toString()));
  child.stderr!.on('data', (b: Buffer) => chunks.push(b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the API exited during start-up: ${chunks.join('')}`);
    const healthy = await fetch(`${base}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy) return { base, output: () => chunks.join(''), stop, kill };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the API did not answer /health within 30 s: ${chunks.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
