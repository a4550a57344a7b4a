import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { accountPath, query } from '../api';
import type { Credentials } from '../credentials';
import { formatCount, formatMoney, sumDecimals } from '../decimal';
import { formatPeriod, formatTick } from '../format';
import { type ChartData, type Span, type UsageRow, chartData, spanRange, usagePoints } from '../series';
import { useApi } from '../use-api';
import { LoadStatus } from './status';

const HEIGHT = 280;
const TOKEN_SERIES = [
  { label: 'Input tokens', color: '#2563eb', dash: undefined },
  { label: 'Cached input tokens', color: '#0f766e', dash: [2, 3] },
  { label: 'Output tokens', color: '#7c3aed', dash: undefined },
] as const;
const COST_COLOR = '#b45309';

/** Axis labels only (tick positions the chart chose, not amounts from the API). */
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });
/** Enough decimals to tell the ticks apart at the axis's step. */
const costTicks = (ticks: number[], step: number) => {
  const decimals = Math.min(12, Math.max(2, Math.ceil(-Math.log10(step))));
  return ticks.map((t) => `$${t.toFixed(decimals)}`);
};

let chartMarked = false;

function chartOptions(width: number, granularity: 'day' | 'hour', withUsage: number[], onIndex: (index: number | null) => void): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    legend: { show: false },
    cursor: { drag: { x: false, y: false }, points: { size: 10 } },
    scales: {
      x: { time: true },
      tokens: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
      cost: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
    },
    series: [
      {},
      ...TOKEN_SERIES.map((s) => ({ label: s.label, scale: 'tokens', stroke: s.color, width: 2, dash: s.dash ? [...s.dash] : undefined, points: { show: true, size: 7, fill: s.color, filter: withUsage } })),
      { label: 'Cost', scale: 'cost', stroke: COST_COLOR, width: 2, dash: [6, 4], points: { show: true, size: 7, fill: COST_COLOR, filter: withUsage } },
    ],
    axes: [
      { stroke: '#475569', grid: { stroke: '#e2e8f0' }, values: (_u, ticks) => ticks.map((t) => formatTick(t, granularity)) },
      { scale: 'tokens', stroke: '#475569', grid: { stroke: '#e2e8f0' }, values: (_u, ticks) => ticks.map((t) => compact.format(t)), size: 56 },
      { scale: 'cost', side: 1, stroke: COST_COLOR, grid: { show: false }, values: (_u, ticks, _axis, _space, step) => costTicks(ticks, step), size: 84 },
    ],
    hooks: {
      setCursor: [(u) => onIndex(u.cursor.idx ?? null)],
      draw: [
        (u) => {
          if (!chartMarked && withUsage.length > 0 && u.data[0].length > 0) {
            chartMarked = true;
            performance.mark('portal:chart');
          }
        },
      ],
    },
  };
}

/** The chart: a point per period with usage; hover, or focus it and use the arrow keys, for exact values. */
function UsageChart({ data, granularity }: { data: ChartData; granularity: 'day' | 'hour' }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const { withUsage } = data;

  useEffect(() => {
    const el = box.current!;
    const u = new uPlot(chartOptions(el.clientWidth, granularity, withUsage, setSelected), data.columns, el);
    plot.current = u;
    setSelected(null);
    const observer = new ResizeObserver(() => u.setSize({ width: el.clientWidth, height: HEIGHT }));
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [data]);

  /** Keyboard steps go from one period with usage to the next. */
  const moveTo = (column: number | undefined) => {
    const u = plot.current;
    if (!u || column === undefined) return;
    u.setCursor({ left: u.valToPos(u.data[0][column], 'x'), top: u.valToPos(u.data[1][column] ?? 0, 'tokens') });
    setSelected(column);
  };

  const onKeyDown = (event: KeyboardEvent) => {
    const at = selected ?? -1;
    const moves: Record<string, () => number | undefined> = {
      ArrowRight: () => withUsage.find((c) => c > at) ?? withUsage.at(-1),
      ArrowLeft: () => (selected === null ? withUsage.at(-1) : ([...withUsage].reverse().find((c) => c < at) ?? withUsage[0])),
      Home: () => withUsage[0],
      End: () => withUsage.at(-1),
    };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    moveTo(move());
  };

  const point = selected !== null ? data.byColumn[selected] : null;
  const tipStyle = useMemo(() => {
    const u = plot.current;
    if (!u || selected === null || !box.current) return undefined;
    const over = u.over.getBoundingClientRect();
    const outer = box.current.getBoundingClientRect();
    const x = over.left - outer.left + u.valToPos(u.data[0][selected], 'x');
    return x > outer.width / 2 ? { right: `${outer.width - x + 14}px` } : { left: `${x + 14}px` };
  }, [selected, data]);

  return (
    <div class="chart-wrap">
      <div
        class="chart"
        ref={box}
        tabIndex={0}
        role="group"
        aria-label={`Usage chart, a point per ${granularity} with usage. Use the left and right arrow keys to read each point.`}
        onKeyDown={onKeyDown}
        data-testid="usage-chart"
        data-points={withUsage.length}
      />
      {withUsage.length === 0 && <p class="chart-empty muted">No usage in this period.</p>}
      <div class={`tooltip ${selected === null ? 'hidden' : ''}`} style={tipStyle} role="status" aria-live="polite" data-testid="chart-tooltip">
        {selected !== null && (
          <>
            <strong data-testid="tooltip-period">{formatPeriod(new Date(data.columns[0][selected] * 1000).toISOString(), granularity)}</strong>
            {point ? (
              <dl>
                <dt>Cost</dt>
                <dd data-testid="tooltip-cost">{formatMoney(point.cost)}</dd>
                <dt>Requests</dt>
                <dd>{formatCount(point.requests)}</dd>
                <dt>Input tokens</dt>
                <dd>{formatCount(point.inputTokens)}</dd>
                <dt>Cached input</dt>
                <dd>{formatCount(point.cachedInputTokens)}</dd>
                <dt>Output tokens</dt>
                <dd>{formatCount(point.outputTokens)}</dd>
              </dl>
            ) : (
              <p class="tooltip-none">No usage</p>
            )}
          </>
        )}
      </div>
    </div>
  );
}

const SPANS: { span: Span; label: string }[] = [
  { span: 'days', label: 'Last 30 days' },
  { span: 'hours', label: 'Last 48 hours' },
];

/** Usage over time: the days of the last 30 or the hours of the last 48, tokens by class and cost. */
export function UsageCard({ credentials, refresh }: { credentials: Credentials; refresh: number }) {
  const [span, setSpan] = useState<Span>('days');
  const range = useMemo(() => spanRange(span, new Date()), [span, refresh]);
  const usage = useApi<{ data: UsageRow[] }>(credentials, accountPath(credentials, `/usage${query(range)}`), refresh);
  const points = useMemo(() => (usage.state === 'ok' ? usagePoints(usage.data.data) : []), [usage]);
  const data = useMemo(() => chartData(points, range), [points]);
  const total = useMemo(() => sumDecimals(points.map((p) => p.cost)), [points]);
  const requests = points.reduce((n, p) => n + p.requests, 0);

  return (
    <section class="card wide" aria-labelledby="usage-title" data-testid="usage-card">
      <div class="card-head">
        <h2 id="usage-title">Usage</h2>
        <div class="segmented" role="group" aria-label="Period">
          {SPANS.map((s) => (
            <button key={s.span} type="button" aria-pressed={span === s.span} onClick={() => setSpan(s.span)}>
              {s.label}
            </button>
          ))}
        </div>
      </div>
      <ul class="legend" aria-label="Chart legend">
        {TOKEN_SERIES.map((s) => (
          <li key={s.label}>
            <span class={`swatch swatch-${s.label.split(' ')[0].toLowerCase()}`} aria-hidden="true" />
            {s.label} (left axis)
          </li>
        ))}
        <li>
          <span class="swatch swatch-cost" aria-hidden="true" />
          Cost, USD (right axis)
        </li>
      </ul>
      <LoadStatus loaded={usage} what="usage" />
      {usage.state === 'ok' && (
        <>
          <UsageChart data={data} granularity={range.granularity} />
          <p class="totals" data-testid="usage-total">
            {SPANS.find((s) => s.span === span)!.label}: <strong>{formatMoney(total)}</strong> for {formatCount(requests)} request{requests === 1 ? '' : 's'}.
          </p>
          <details>
            <summary>Show these figures as a table</summary>
            <div class="table-wrap" tabIndex={0} aria-label="Usage figures">
              <table>
                <thead>
                  <tr>
                    <th scope="col">{range.granularity === 'day' ? 'Day' : 'Hour'}</th>
                    <th scope="col" class="num">Requests</th>
                    <th scope="col" class="num">Input</th>
                    <th scope="col" class="num">Cached input</th>
                    <th scope="col" class="num">Output</th>
                    <th scope="col" class="num">Cost</th>
                  </tr>
                </thead>
                <tbody>
                  {points.map((p) => (
                    <tr key={p.periodStart} data-testid="usage-row">
                      <td>{formatPeriod(p.periodStart, range.granularity)}</td>
                      <td class="num">{formatCount(p.requests)}</td>
                      <td class="num">{formatCount(p.inputTokens)}</td>
                      <td class="num">{formatCount(p.cachedInputTokens)}</td>
                      <td class="num">{formatCount(p.outputTokens)}</td>
                      <td class="num">{formatMoney(p.cost)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </details>
        </>
      )}
    </section>
  );
}
