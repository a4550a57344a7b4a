import { type ChildProcess, spawn } from 'node:child_process';
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Queue } from 'bullmq';
import { httpRequest } from './http.js';

/** dist/ of this build (this file is dist/bench/processes.js). */
const DIST = fileURLToPath(new URL('../', import.meta.url));
let root = DIST;

/**
 * Child processes run from a private copy of dist/ (dist/.bench-<run>/, node_modules still
 * resolves from there), so a `npm run build` elsewhere during the run cannot change or break the
 * code under measurement halfway. Removed again by dropSnapshot().
 */
export function snapshotDist(run: string): string {
  const snapshot = join(DIST, `.bench-${run}`);
  for (const dir of ['apps', 'libs', 'migrations', 'bench']) cpSync(join(DIST, dir), join(snapshot, dir), { recursive: true });
  root = snapshot;
  return snapshot;
}

export function dropSnapshot(): void {
  if (root !== DIST) rmSync(root, { recursive: true, force: true });
  root = DIST;
}

/** BENCH_WORKER_MAIN / BENCH_API_MAIN run another build (e.g. a patched copy of dist/) for comparison. */
const workerMain = () => process.env.BENCH_WORKER_MAIN || join(root, 'apps/worker/src/main.js');
const apiMain = () => process.env.BENCH_API_MAIN || join(root, 'apps/api/src/main.js');
const noopWorkerMain = () => join(root, 'bench/noop-worker.js');

/** One "flush committed" line of the worker (LOG_LEVEL=info only). */
export interface FlushLine {
  jobs: number;
  events: number;
  priced: number;
  ms: number;
  time: number;
}

/** A child process from dist/, its output collected line by line. */
export class Child {
  readonly flushes: FlushLine[] = [];
  readonly stderrTail: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly listeners: ((line: string) => void)[] = [];

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve(code ?? (signal ? -1 : null))));
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line.includes('"flush committed"')) {
        try {
          const parsed = JSON.parse(line) as FlushLine;
          this.flushes.push({ jobs: parsed.jobs, events: parsed.events, priced: parsed.priced, ms: parsed.ms, time: parsed.time });
        } catch {
          /* not JSON: ignore */
        }
      }
      for (const listener of this.listeners) listener(line);
    });
    createInterface({ input: proc.stderr! }).on('line', (line) => {
      this.stderrTail.push(line);
      if (this.stderrTail.length > 50) this.stderrTail.shift();
    });
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** Resolves with the first stdout line that contains `text`; rejects if the process exits first. */
  waitForLine(text: string, timeoutMs = 30_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name}: no "${text}" within ${timeoutMs} ms. stderr: ${this.stderrTail.join('\n')}`)), timeoutMs);
      this.listeners.push((line) => {
        if (line.includes(text)) {
          clearTimeout(timer);
          resolve(line);
        }
      });
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) before "${text}". stderr: ${this.stderrTail.join('\n')}`));
      });
    });
  }

  /** SIGTERM (the service's graceful shutdown), SIGKILL after graceMs. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.proc.kill('SIGTERM');
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  /** Stops it unless already stopped; used on the failure path. */
  kill(): void {
    if (this.running) this.proc.kill('SIGKILL');
  }
}

const children = new Set<Child>();
/** Every process this run started, by role (the machine watch counts their CPU as ours). */
export const spawnedPids = new Map<number, string>();
/** Processes this run started through a library (the portal row's browser), by command line and role. */
export const spawnedCommands = new Map<RegExp, string>();

/**
 * Each child in a session of its own (detached: setsid), so that it is scheduled as a service of
 * its own. Where the kernel groups processes by session for CPU fairness (autogroup, on in this
 * machine's kernel: /proc/sys/kernel/sched_autogroup_enabled), children left in the bench's
 * session shared one CPU share with each other and with the bench's own clients, against
 * Postgres's and Redis's shares, which no deployment does: the gateway, the API and the worker
 * run as separate services, each in a cgroup of its own under systemd or in containers.
 * Detached children get no Ctrl-C from the terminal; the bench kills them itself (killAll, on a
 * signal, a failure and at exit).
 */
function start(name: string, main: string, env: Record<string, string>, nodeArgs: string[] = [], role = name): Child {
  const proc = spawn(process.execPath, [...nodeArgs, main], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const child = new Child(name, proc);
  if (proc.pid) spawnedPids.set(proc.pid, role);
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

/** node flags writing a CPU profile into dir/sub when the process exits (BENCH_CPU_PROF_DIR). */
function profileArgs(dir: string, sub: string): string[] {
  if (!dir) return [];
  mkdirSync(`${dir}/${sub}`, { recursive: true });
  return ['--cpu-prof', `--cpu-prof-dir=${dir}/${sub}`];
}

/** Every child still running, killed: the failure path. */
export function killAll(): void {
  for (const child of children) child.kill();
}

/**
 * `count` service worker processes (dist/apps/worker/src/main.js) on `queue`, resolved once each
 * has its BullMQ worker connected (seen in Redis: CLIENT LIST names), since LOG_LEVEL=warn hides
 * the "worker: consuming" line.
 */
export async function startWorkers(count: number, env: Record<string, string>, queue: Queue, cpuProfDir = ''): Promise<Child[]> {
  const before = await queue.getWorkersCount();
  const workers: Child[] = [];
  for (let i = 0; i < count; i++) {
    workers.push(start(`worker ${i + 1}`, workerMain(), env, profileArgs(cpuProfDir, `${queue.name}/worker`), 'worker'));
  }
  const deadline = Date.now() + 30_000;
  while ((await queue.getWorkersCount()) < before + count) {
    const dead = workers.find((w) => !w.running);
    if (dead) throw new Error(`${dead.name} exited during start-up. stderr: ${dead.stderrTail.join('\n')}`);
    if (Date.now() > deadline) throw new Error('workers did not connect to the queue within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return workers;
}

/** The API process (dist/apps/api/src/main.js), resolved once GET /health answers. */
export async function startApi(env: Record<string, string>, port: number, cpuProfDir = ''): Promise<Child> {
  const api = start('api', apiMain(), { ...env, PORT: String(port) }, profileArgs(cpuProfDir, `${env.USAGE_QUEUE}/api`));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (!api.running) throw new Error(`api exited during start-up. stderr: ${api.stderrTail.join('\n')}`);
    const ok = await httpRequest({ port, method: 'GET', path: '/health' }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return api;
    if (Date.now() > deadline) throw new Error('api did not answer /health within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The BullMQ no-op worker (bench/noop-worker.ts) consuming `expect` jobs; resolved when ready. */
export async function startNoopWorker(env: Record<string, string>): Promise<Child> {
  const child = start('noop worker', noopWorkerMain(), env);
  await child.waitForLine('ready');
  return child;
}

export async function stopAll(list: Child[]): Promise<void> {
  await Promise.all(list.map((c) => c.stop()));
}
