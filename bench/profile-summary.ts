/**
 * Summarises the .cpuprofile files that BENCH_CPU_PROF_DIR collected: self time by package/file
 * and by function, and inclusive time of the app's functions, the pg driver and BullMQ.
 *
 *   node dist/bench/profile-summary.js /tmp/prof/bench-a1/worker
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function files(path: string): string[] {
  if (statSync(path).isFile()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(path, f));
}

function category(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (functionName === '(idle)') return '(idle)';
  if (functionName === '(garbage collector)') return '(gc)';
  if (functionName === '(program)') return '(program)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  const app = /\/(apps\/.*|libs\/.*|bench\/.*)$/.exec(url);
  if (app) return app[1];
  return url || `(native) ${functionName}`;
}

const top = (map: Map<string, number>, n: number) => [...map].sort((a, b) => b[1] - a[1]).slice(0, n);
const ms = (us: number) => `${(us / 1000).toFixed(0).padStart(7)} ms`;

for (const file of files(process.argv[2] ?? '.')) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfTime = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    selfTime.set(id, (selfTime.get(id) ?? 0) + dt);
    total += dt;
  });
  const byCategory = new Map<string, number>();
  const byFunction = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, t] of selfTime) {
    const node = byId.get(id)!;
    const cat = category(node);
    byCategory.set(cat, (byCategory.get(cat) ?? 0) + t);
    const fn = `${node.callFrame.functionName || '(anonymous)'}  ${cat}:${node.callFrame.lineNumber + 1}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      const c = category(n);
      if (!/^(apps|libs)\/|^npm:(pg|bullmq|ioredis|typeorm)$/.test(c)) continue;
      const key = `${n.callFrame.functionName || '(anonymous)'}  ${c}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + t);
    }
  }
  const busy = total - (byCategory.get('(idle)') ?? 0);
  process.stdout.write(`\n${file}\n  ${ms(total)} profiled, ${ms(busy)} busy\n\n  self time by package / file\n`);
  for (const [k, v] of top(byCategory, 20)) process.stdout.write(`  ${ms(v)} ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}\n`);
  process.stdout.write('\n  self time by function\n');
  for (const [k, v] of top(byFunction, 25)) process.stdout.write(`  ${ms(v)}  ${k}\n`);
  process.stdout.write('\n  inclusive time (app, pg, bullmq, ioredis, typeorm)\n');
  for (const [k, v] of top(inclusive, 30)) process.stdout.write(`  ${ms(v)}  ${k}\n`);
}
