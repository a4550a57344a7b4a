import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import type { BenchContext } from './context.js';

export interface Row {
  scenario: string;
  result: string;
  ceiling: string;
  ratio: string;
  target: string;
  pass: boolean | null;
}

export const RESULTS_DIR = fileURLToPath(new URL('../../bench/results/', import.meta.url));

const fmtInt = (n: number) => Math.round(n).toLocaleString('en-US');
export const fmtRate = (n: number) => `${fmtInt(n)} events/s`;
export const fmtMs = (n: number) => `${n < 10 ? n.toFixed(1) : fmtInt(n)} ms`;

export async function systemInfo(ctx: BenchContext): Promise<Record<string, unknown>> {
  const pgInfo = await ctx.pool.query(
    `SELECT current_setting('server_version') AS version, current_setting('shared_buffers') AS shared_buffers,
            current_setting('synchronous_commit') AS synchronous_commit, current_setting('fsync') AS fsync,
            current_setting('max_wal_size') AS max_wal_size, current_setting('wal_level') AS wal_level`,
  );
  const redisInfo = await ctx.redis.info('server');
  const git = (args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return null;
    }
  };
  const packageVersion = (name: string) => {
    try {
      const file = fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url));
      return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
    } catch {
      return null;
    }
  };
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    postgres: pgInfo.rows[0],
    redis: /redis_version:(\S+)/.exec(redisInfo)?.[1] ?? 'unknown',
    bullmq: packageVersion('bullmq'),
    pg: packageVersion('pg'),
    commit: git(['rev-parse', '--short', 'HEAD']),
    dirty: (git(['status', '--porcelain', '--', 'apps', 'libs', 'migrations']) ?? '') !== '',
  };
}

export function table(rows: Row[]): string {
  const header = ['scenario', 'result', 'ceiling', 'ratio', 'target', 'pass'];
  const cells = rows.map((r) => [r.scenario, r.result, r.ceiling, r.ratio, r.target, r.pass === null ? '' : r.pass ? 'PASS' : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export function writeResults(opts: { startedAt: Date; markdown: string; json: unknown; hostname: string }): { md: string; json: string } {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const stamp = opts.startedAt.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-');
  const base = `${RESULTS_DIR}${stamp}-${opts.hostname.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  writeFileSync(`${base}.md`, opts.markdown);
  writeFileSync(`${base}.json`, `${JSON.stringify(opts.json, null, 2)}\n`);
  return { md: `${base}.md`, json: `${base}.json` };
}
