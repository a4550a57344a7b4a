import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { KNOBS, SIZES } from '../config.js';
import { freePort } from '../http.js';
import { type Child, startApi } from '../processes.js';
import { percentile } from '../stats.js';
import { type Harness, QUIET_SHARE, startClock, type WindowNote } from './common.js';

export interface ExportRun {
  /** Data rows (lines after the header). */
  rows: number;
  lines: number;
  bytes: number;
  /** Request sent until the last byte was read. */
  ms: number;
  /** Request sent until the response headers, and until the first body byte. */
  headersMs: number;
  firstByteMs: number;
  rowsPerSecond: number;
  mbPerSecond: number;
  /**
   * The API process's resident memory (VmRSS), MB: after start-up; the highest during the export
   * (the highest sample, or VmHWM when that rose during the export); after it.
   */
  rssBeforeMB: number;
  rssPeakMB: number;
  rssAfterMB: number;
  /** VmHWM (the kernel's own peak RSS since the process started), before and after the export; null without /proc. */
  hwmBeforeMB: number | null;
  hwmAfterMB: number | null;
  rssSamples: number;
  /** Every sample: [ms since the request, VmRSS MB] (the .json only). */
  rssTimeline: [number, number][];
  window: WindowNote;
}

export interface ExportResult {
  events: number;
  runs: ExportRun[];
  /** The run with the median time among the undisturbed runs (among all when every run was disturbed). */
  median: ExportRun;
  /** Median over the same runs. */
  firstByteMs: number;
  /** Highest rssPeakMB over every run. */
  peakRssMB: number;
  undisturbedRuns: number;
  disturbed: boolean;
}

const MB = 2 ** 20;
const round1 = (n: number) => Math.round(n * 10) / 10;
const undisturbed = (w: WindowNote) => w.quiet && w.interference.share < QUIET_SHARE;

/** VmRSS and VmHWM of a process in bytes, from /proc (Linux) or else `ps` (RSS only). */
function memoryOf(pid: number): { rss: number; hwm: number | null } {
  const status = `/proc/${pid}/status`;
  if (existsSync(status)) {
    const text = readFileSync(status, 'utf8');
    const kb = (field: string) => {
      const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
      return match ? Number(match[1]) * 1024 : null;
    };
    return { rss: kb('VmRSS') ?? 0, hwm: kb('VmHWM') };
  }
  const out = execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' });
  return { rss: Number(out.trim()) * 1024, hwm: null };
}

/** Reads the process's RSS every `everyMs` until stopped; keeps the highest. */
class RssSampler {
  private peak = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;
  readonly timeline: [number, number][] = [];

  constructor(
    private readonly pid: number,
    private readonly since: number,
  ) {}

  start(everyMs: number): void {
    this.take();
    this.timer = setInterval(() => this.take(), everyMs);
  }

  /** Stops sampling (once: calling it again changes nothing) and returns the highest RSS seen. */
  stop(): { peak: number; samples: number } {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
      this.take();
    }
    return { peak: this.peak, samples: this.samples };
  }

  private take(): void {
    try {
      const { rss } = memoryOf(this.pid);
      this.peak = Math.max(this.peak, rss);
      this.samples++;
      this.timeline.push([Math.round(performance.now() - this.since), round1(rss / MB)]);
    } catch {
      /* process gone */
    }
  }
}

/** GET `path`, reading and discarding the body, counting its lines; times the headers, the first and the last byte. */
function streamLines(port: number, path: string, headers: Record<string, string>) {
  return new Promise<{ lines: number; bytes: number; headersAt: number; firstByteAt: number; endAt: number; head: string; endsWithNewline: boolean }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'GET', path, headers, agent: false }, (res) => {
      const headersAt = performance.now();
      if (res.statusCode !== 200) {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.on('end', () => reject(new Error(`GET ${path} answered ${res.statusCode}: ${Buffer.concat(parts).toString('utf8').slice(0, 500)}`)));
        return;
      }
      let lines = 0;
      let bytes = 0;
      let firstByteAt = 0;
      let head = '';
      let last = 0;
      res.on('data', (chunk: Buffer) => {
        if (!firstByteAt) {
          firstByteAt = performance.now();
          head = chunk.subarray(0, 200).toString('utf8');
        }
        bytes += chunk.length;
        for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
        last = chunk[chunk.length - 1];
      });
      res.on('end', () => resolve({ lines, bytes, headersAt, firstByteAt: firstByteAt || performance.now(), endAt: performance.now(), head, endsWithNewline: last === 10 }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * Scenario (g): `GET /v1/exports/usage.csv` (admin key, no range: every row of usage_events,
 * which holds the `events` events scenario (f) left, or a fresh month of them) from a freshly
 * started API process, KNOBS.reps times, one API process per run. The bench reads and discards
 * the body over HTTP, counting lines; the clock runs from the request until the last byte. The
 * API's VmRSS is read from /proc every SIZES.exportRssSampleMs during the export (VmHWM too).
 * Lines must be events + 1 (the header), or the run fails.
 */
export async function exportScenario(h: Harness, events: number): Promise<ExportResult> {
  const env = h.ctx.serviceEnv('bench-exports', KNOBS.logLevel);
  const headers = { authorization: `Bearer ${h.ctx.adminKey}` };
  const path = '/v1/exports/usage.csv';
  const runs: ExportRun[] = [];
  for (let rep = 1; rep <= KNOBS.reps; rep++) {
    await h.ctx.pool.query('CHECKPOINT');
    let api: Child | undefined;
    try {
      const port = await freePort();
      api = await startApi(env, port, KNOBS.cpuProfDir);
      const pid = api.pid!;
      const clock = await startClock(h);
      const before = memoryOf(pid);
      const sampler = new RssSampler(pid, clock.started);
      sampler.start(SIZES.exportRssSampleMs);
      const started = clock.started;
      const got = await streamLines(port, path, headers).finally(() => sampler.stop());
      const peak = sampler.stop();
      const { ms, window } = clock.stop(got.endAt);
      const after = memoryOf(pid);
      // VmHWM is exact but counts since start-up: it speaks for the export only when it rose during it.
      const hwmDuring = after.hwm !== null && before.hwm !== null && after.hwm > before.hwm ? after.hwm : 0;
      if (got.lines !== events + 1 || !got.endsWithNewline || !got.head.startsWith('event_id,')) {
        throw new Error(`GET ${path}: ${got.lines} lines (${got.bytes} bytes), expected ${events + 1} (header + ${events} rows); starts ${JSON.stringify(got.head.slice(0, 80))}`);
      }
      const run: ExportRun = {
        rows: got.lines - 1,
        lines: got.lines,
        bytes: got.bytes,
        ms,
        headersMs: got.headersAt - started,
        firstByteMs: got.firstByteAt - started,
        rowsPerSecond: Math.round(((got.lines - 1) * 1000) / ms),
        mbPerSecond: round1(got.bytes / MB / (ms / 1000)),
        rssBeforeMB: round1(before.rss / MB),
        rssPeakMB: round1(Math.max(peak.peak, after.rss, hwmDuring) / MB),
        rssAfterMB: round1(after.rss / MB),
        hwmBeforeMB: before.hwm === null ? null : round1(before.hwm / MB),
        hwmAfterMB: after.hwm === null ? null : round1(after.hwm / MB),
        rssSamples: peak.samples,
        rssTimeline: sampler.timeline,
        window,
      };
      runs.push(run);
      h.log(
        `(g) export run ${rep}: ${run.rows.toLocaleString('en-US')} rows, ${(run.bytes / MB).toFixed(0)} MB in ${(ms / 1000).toFixed(2)} s (${run.rowsPerSecond.toLocaleString('en-US')} rows/s), first byte ${run.firstByteMs.toFixed(0)} ms, API RSS ${run.rssBeforeMB} MB before, peak ${run.rssPeakMB} MB (VmHWM ${run.hwmAfterMB ?? 'n/a'} MB, ${run.rssSamples} samples)${undisturbed(window) ? '' : `; other processes took ${Math.round(window.interference.share * 100)}% of the machine`}`,
      );
    } finally {
      await api?.stop();
    }
  }
  const clean = runs.filter((r) => undisturbed(r.window));
  const pool = clean.length ? clean : runs;
  const byTime = [...pool].sort((a, b) => a.ms - b.ms);
  return {
    events,
    runs,
    median: byTime[Math.floor((byTime.length - 1) / 2)],
    firstByteMs: percentile(
      pool.map((r) => r.firstByteMs),
      50,
    ),
    peakRssMB: Math.max(...runs.map((r) => r.rssPeakMB)),
    undisturbedRuns: clean.length,
    disturbed: clean.length === 0,
  };
}
