import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { spawnedCommands, spawnedPids } from './processes.js';
import { sleep } from './stats.js';

/**
 * Other work on the machine skews a benchmark more than anything else on 2 cores. This watches
 * the CPU time of every process that is not part of this run (Linux /proc): before each timed
 * window the bench waits (bounded) for the machine to be quiet, and each result records how much
 * CPU foreign processes took during it. Part of this run: the bench, the processes it started,
 * Postgres backends of its database and Postgres' own background processes, and Redis (shared,
 * it cannot be split). Processes that start and end inside a window are missed: foreign CPU is
 * a lower bound.
 */
const CLOCK_TICKS = 100;
const POSTGRES_BACKGROUND = /^postgres: .*(checkpointer|background writer|walwriter|autovacuum launcher|logical replication launcher|stats collector|archiver|startup|wal )/;

type Sample = Map<number, { ticks: number; cmd: string }>;

export interface Interference {
  /** Foreign CPU seconds during the window. */
  cpuSeconds: number;
  /** As a share of the machine's cores over the window (0.1 = a tenth of all cores). */
  share: number;
  /** The biggest foreign consumers. */
  top: { cmd: string; cpuSeconds: number }[];
  /**
   * CPU seconds by role during the window (bench, worker, api, noop worker, postgres, redis,
   * other) and the core-seconds the window had: where the machine's time went.
   */
  cpu: Record<string, number>;
  coreSeconds: number;
}

export class MachineWatch {
  private readonly enabled = existsSync('/proc/stat');
  private readonly ours = new Set<number>([process.pid]);
  private readonly cores: number;

  constructor(
    private readonly databaseName: string,
    cores: number,
  ) {
    this.cores = cores;
  }

  /** Marks a process as part of this run. */
  own(pid: number | undefined): void {
    if (pid) this.ours.add(pid);
  }

  sample(): Sample {
    const out: Sample = new Map();
    if (!this.enabled) return out;
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
        if (ticks === 0 && !out.has(pid)) {
          out.set(pid, { ticks, cmd: '' });
          continue;
        }
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
        out.set(pid, { ticks, cmd });
      } catch {
        /* gone meanwhile */
      }
    }
    return out;
  }

  private role(pid: number, cmd: string): string {
    if (this.ours.has(pid)) return 'bench';
    const spawned = spawnedPids.get(pid);
    if (spawned) return spawned;
    for (const [command, role] of spawnedCommands) if (command.test(cmd)) return role;
    if (cmd.includes(this.databaseName) || POSTGRES_BACKGROUND.test(cmd)) return 'postgres';
    if (/^(\S*\/)?redis-server/.test(cmd)) return 'redis';
    if (cmd === '') return 'kernel';
    return 'other';
  }

  interference(before: Sample, after: Sample, ms: number): Interference {
    const byCmd = new Map<string, number>();
    const cpu: Record<string, number> = {};
    let ticks = 0;
    for (const [pid, now] of after) {
      const used = now.ticks - (before.get(pid)?.ticks ?? 0);
      if (used <= 0) continue;
      const role = this.role(pid, now.cmd);
      cpu[role] = Math.round(((cpu[role] ?? 0) + used / CLOCK_TICKS) * 100) / 100;
      if (role !== 'other') continue;
      ticks += used;
      const name = now.cmd.slice(0, 100);
      byCmd.set(name, (byCmd.get(name) ?? 0) + used);
    }
    const cpuSeconds = ticks / CLOCK_TICKS;
    return {
      cpuSeconds: Math.round(cpuSeconds * 100) / 100,
      share: ms > 0 ? Math.round((cpuSeconds / ((ms / 1000) * this.cores)) * 1000) / 1000 : 0,
      top: [...byCmd.entries()]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 3)
        .map(([cmd, t]) => ({ cmd, cpuSeconds: t / CLOCK_TICKS })),
      cpu,
      coreSeconds: Math.round((ms / 1000) * this.cores * 100) / 100,
    };
  }

  /**
   * Waits until foreign processes used less than `maxShare` of the machine over one second, at
   * most maxWaitMs; returns how long it waited and whether it got quiet.
   */
  async waitQuiet(opts: { maxShare: number; maxWaitMs: number; log: (line: string) => void }): Promise<{ waitedMs: number; quiet: boolean }> {
    if (!this.enabled) return { waitedMs: 0, quiet: true };
    const started = performance.now();
    let said = false;
    for (;;) {
      const before = this.sample();
      await sleep(1000);
      const busy = this.interference(before, this.sample(), 1000);
      if (busy.share < opts.maxShare) return { waitedMs: Math.round(performance.now() - started), quiet: true };
      if (performance.now() - started > opts.maxWaitMs) {
        opts.log(`machine still busy after ${Math.round(opts.maxWaitMs / 1000)} s (${busy.top[0]?.cmd ?? '?'}): measuring anyway, flagged`);
        return { waitedMs: Math.round(performance.now() - started), quiet: false };
      }
      if (!said) {
        opts.log(`waiting for the machine to go quiet: other processes use ${(busy.share * 100).toFixed(0)}% of it (${busy.top[0]?.cmd ?? '?'})`);
        said = true;
      }
    }
  }
}
