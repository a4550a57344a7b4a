import { chartGeometry, sumDecimals } from './decimal';

/** One row of GET /v1/accounts/{id}/usage. */
export interface UsageRow {
  period_start: string;
  model: string;
  requests: number;
  input_tokens: number;
  cached_input_tokens: number;
  output_tokens: number;
  cost: string;
}

/** One point of the chart: every model's rows of one period added up, cost exactly. */
export interface UsagePoint {
  periodStart: string;
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  cost: string;
}

/** Rows grouped by period, in time order; periods without usage have no point. */
export function usagePoints(rows: readonly UsageRow[]): UsagePoint[] {
  const byPeriod = new Map<string, UsageRow[]>();
  for (const row of rows) {
    const key = new Date(row.period_start).toISOString();
    const list = byPeriod.get(key);
    if (list) list.push(row);
    else byPeriod.set(key, [row]);
  }
  return [...byPeriod.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([periodStart, list]) => ({
      periodStart,
      requests: list.reduce((n, r) => n + r.requests, 0),
      inputTokens: list.reduce((n, r) => n + r.input_tokens, 0),
      cachedInputTokens: list.reduce((n, r) => n + r.cached_input_tokens, 0),
      outputTokens: list.reduce((n, r) => n + r.output_tokens, 0),
      cost: sumDecimals(list.map((r) => r.cost)),
    }));
}

/** What the chart draws: one column per period of the span, and which columns have usage. */
export interface ChartData {
  /** x in Unix seconds, then input, cached input and output tokens, then cost (geometry only); 0 where a period has no usage */
  columns: [number[], number[], number[], number[], number[]];
  /** Per column: the period's usage, or null when it had none. */
  byColumn: (UsagePoint | null)[];
  /** The columns that have usage, in time order: where points are drawn. */
  withUsage: number[];
}

const STEP_MS = { day: 24 * 3_600_000, hour: 3_600_000 } as const;

/** Every period of [from, to) as a column, so days without usage sit at zero instead of being skipped over. */
export function chartData(points: readonly UsagePoint[], range: { from: string; to: string; granularity: 'day' | 'hour' }): ChartData {
  const byStart = new Map(points.map((p) => [Date.parse(p.periodStart), p]));
  const columns: ChartData['columns'] = [[], [], [], [], []];
  const byColumn: (UsagePoint | null)[] = [];
  const withUsage: number[] = [];
  for (let t = Date.parse(range.from); t < Date.parse(range.to); t += STEP_MS[range.granularity]) {
    const point = byStart.get(t) ?? null;
    if (point) withUsage.push(byColumn.length);
    byColumn.push(point);
    columns[0].push(t / 1000);
    columns[1].push(point?.inputTokens ?? 0);
    columns[2].push(point?.cachedInputTokens ?? 0);
    columns[3].push(point?.outputTokens ?? 0);
    columns[4].push(point ? chartGeometry(point.cost) : 0);
  }
  return { columns, byColumn, withUsage };
}

export type Span = 'days' | 'hours';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The last 30 UTC days (today included) or the last 48 whole hours (this one included), as the usage API wants them. */
export function spanRange(span: Span, now: Date): { from: string; to: string; granularity: 'day' | 'hour' } {
  if (span === 'days') {
    const tomorrow = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    return { from: new Date(tomorrow - 30 * DAY).toISOString(), to: new Date(tomorrow).toISOString(), granularity: 'day' };
  }
  const nextHour = Math.floor(now.getTime() / HOUR) * HOUR + HOUR;
  return { from: new Date(nextHour - 48 * HOUR).toISOString(), to: new Date(nextHour).toISOString(), granularity: 'hour' };
}
