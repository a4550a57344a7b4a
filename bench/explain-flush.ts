/**
 * Where Postgres spends one flush: the worker's RECORD_PRICED statement run under
 * EXPLAIN (ANALYZE, BUFFERS, WAL) on a database of its own, after warm-up flushes have filled the
 * tables as a running service would (no vacuum or checkpoint in between, as in the bench). Prints
 * each part of the statement (its CTEs) with its own time, buffers and WAL, the triggers (foreign
 * keys), and the totals per event.
 *
 *   npm run build && node dist/bench/explain-flush.js
 *
 * Env: BENCH_EXPLAIN_EVENTS (events per flush, default 1000, the bench's batch), BENCH_EXPLAIN_WARM
 * (warm-up flushes, default 50), BENCH_ACCOUNTS (default 1000), DATABASE_URL, REDIS_URL.
 */
import pg from 'pg';
import { RECORD_PRICED } from '@app/db';
import { BenchContext } from './context.js';
import { makeEvents } from './events.js';
import { recordPricedParams } from './scenarios/ceilings.js';

const size = Number(process.env.BENCH_EXPLAIN_EVENTS || 1000);
const warm = Number(process.env.BENCH_EXPLAIN_WARM || 50);
const accounts = Number(process.env.BENCH_ACCOUNTS || 1000);

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'CTE Name'?: string;
  'Subplan Name'?: string;
  'Parent Relationship'?: string;
  'Actual Total Time': number;
  'Actual Loops': number;
  'Actual Rows': number;
  'Shared Hit Blocks': number;
  'Shared Dirtied Blocks': number;
  'WAL Records': number;
  'WAL Bytes': number;
  Plans?: PlanNode[];
}

interface Explained {
  Plan: PlanNode;
  'Planning Time': number;
  'Execution Time': number;
  Triggers?: { 'Trigger Name': string; Relation: string; Time: number; Calls: number }[];
}

type Field = 'Shared Hit Blocks' | 'Shared Dirtied Blocks' | 'WAL Records' | 'WAL Bytes';
const FIELDS: Field[] = ['Shared Hit Blocks', 'Shared Dirtied Blocks', 'WAL Records', 'WAL Bytes'];
const children = (node: PlanNode) => node.Plans ?? [];
/** A node's time over all its loops. */
const total = (node: PlanNode) => node['Actual Total Time'] * node['Actual Loops'];

/**
 * A node's own figures: its totals less its children's. A CTE Scan counts nothing of its own: the
 * first scan of a CTE carries the CTE's whole work, which is counted once, at the CTE itself.
 */
function own(node: PlanNode): { ms: number } & Record<Field, number> {
  const figures = { ms: total(node) - children(node).reduce((sum, child) => sum + total(child), 0) } as { ms: number } & Record<Field, number>;
  for (const field of FIELDS) figures[field] = node[field] - children(node).reduce((sum, child) => sum + child[field], 0);
  if (node['Node Type'] === 'CTE Scan') for (const key of ['ms', ...FIELDS] as const) figures[key] = 0;
  return figures;
}

/** The sum of own figures over a subtree. */
function part(node: PlanNode): { ms: number } & Record<Field, number> {
  const sum = own(node);
  for (const child of children(node)) {
    const inner = part(child);
    for (const key of ['ms', ...FIELDS] as const) sum[key] += inner[key];
  }
  return sum;
}

const row = (label: string, figures: { ms: number } & Record<Field, number>, executionMs: number) =>
  [
    label.padEnd(44),
    `${figures.ms.toFixed(1)} ms`.padStart(9),
    `${Math.round((figures.ms / executionMs) * 100)}%`.padStart(5),
    String(figures['Shared Hit Blocks']).padStart(8),
    String(figures['Shared Dirtied Blocks']).padStart(8),
    String(figures['WAL Records']).padStart(8),
    `${Math.round(figures['WAL Bytes'] / 1024)} kB`.padStart(9),
  ].join(' ');

const ctx = await BenchContext.create();
const client = new pg.Client({ connectionString: ctx.databaseUrl, application_name: 'billing-bench-explain' });
try {
  await ctx.resetData(accounts);
  const set = makeEvents({ run: ctx.run, tag: 'explain', n: (warm + 1) * size, accounts, seed: 16 });
  const params = recordPricedParams(set, size);
  await client.connect();
  for (const [events, reference] of params.slice(0, warm)) {
    await client.query('BEGIN');
    await client.query(RECORD_PRICED, [JSON.stringify(events), reference]);
    await client.query('COMMIT');
  }
  const [events, reference] = params[warm];
  await client.query('BEGIN');
  const { rows } = await client.query<{ 'QUERY PLAN': Explained[] }>(`EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) ${RECORD_PRICED}`, [JSON.stringify(events), reference]);
  await client.query('COMMIT');
  const explained = rows[0]['QUERY PLAN'][0];
  const touched = new Set(events.map((e) => e.account_id)).size;
  process.stdout.write(`RECORD_PRICED, one flush of ${size} events over ${touched} accounts, after ${warm} flushes (${warm * size} events)\n\n`);
  const execution = explained['Execution Time'];
  const plan = explained.Plan;
  process.stdout.write(`${'part of the statement (its CTE)'.padEnd(44)} ${'time'.padStart(9)} ${'share'.padStart(5)} ${'hits'.padStart(8)} ${'dirtied'.padStart(8)} ${'WAL recs'.padStart(8)} ${'WAL'.padStart(9)}\n`);
  // Every part is a CTE (an InitPlan of the top node); the final SELECT only scans one of them.
  for (const cte of children(plan).filter((child) => child['Parent Relationship'] === 'InitPlan')) {
    const what = [cte['Node Type'], cte['Relation Name']].filter(Boolean).join(' ');
    process.stdout.write(`${row(`${(cte['Subplan Name'] ?? '').replace(/^CTE /, '')}: ${what}`, part(cte), execution)}\n`);
  }
  for (const trigger of explained.Triggers ?? []) {
    process.stdout.write(`trigger ${trigger['Trigger Name']} on ${trigger.Relation}: ${trigger.Time.toFixed(1)} ms, ${trigger.Calls} calls\n`);
  }
  const perEvent = (value: number) => (value / size).toFixed(2);
  process.stdout.write(
    `\nplanning ${explained['Planning Time'].toFixed(1)} ms, execution ${execution.toFixed(1)} ms (${((execution * 1000) / size).toFixed(1)} µs an event); ` +
      `per event: ${perEvent(plan['Shared Hit Blocks'])} buffer hits, ${perEvent(plan['Shared Dirtied Blocks'])} dirtied, ${perEvent(plan['WAL Records'])} WAL records, ${Math.round(plan['WAL Bytes'] / size)} WAL bytes\n`,
  );
} finally {
  await client.end().catch(() => undefined);
  const problems = await ctx.cleanup();
  if (problems.length) process.stderr.write(`cleanup: ${problems.join('; ')}\n`);
}
