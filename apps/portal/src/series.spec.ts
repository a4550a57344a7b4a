import { describe, expect, it } from '@jest/globals';
import { chartData, spanRange, usagePoints, type UsageRow } from './series';

const row = (period_start: string, model: string, cost: string, tokens = 1): UsageRow => ({
  period_start,
  model,
  requests: 1,
  input_tokens: tokens,
  cached_input_tokens: 2 * tokens,
  output_tokens: 3 * tokens,
  cost,
});

describe('usagePoints', () => {
  it('adds up the models of one period, cost exactly', () => {
    const points = usagePoints([
      row('2026-11-02T00:00:00.000Z', 'qwen3-5-4b', '0.1'),
      row('2026-11-01T00:00:00.000Z', 'qwen3-5-4b', '0.5'),
      row('2026-11-02T00:00:00.000Z', 'other', '0.000000000000000001', 10),
    ]);
    expect(points).toEqual([
      { periodStart: '2026-11-01T00:00:00.000Z', requests: 1, inputTokens: 1, cachedInputTokens: 2, outputTokens: 3, cost: '0.5' },
      { periodStart: '2026-11-02T00:00:00.000Z', requests: 2, inputTokens: 11, cachedInputTokens: 22, outputTokens: 33, cost: '0.100000000000000001' },
    ]);
  });

  it('gives no point for a period without rows', () => {
    expect(usagePoints([])).toEqual([]);
  });
});

describe('chartData', () => {
  it('has a column per period of the span, zero where there was no usage, cost as a float for geometry', () => {
    const points = usagePoints([row('2026-11-02T00:00:00.000Z', 'm', '0.25', 4)]);
    const data = chartData(points, { from: '2026-11-01T00:00:00.000Z', to: '2026-11-04T00:00:00.000Z', granularity: 'day' });
    const day = (d: number) => Date.UTC(2026, 10, d) / 1000;
    expect(data.columns).toEqual([[day(1), day(2), day(3)], [0, 4, 0], [0, 8, 0], [0, 12, 0], [0, 0.25, 0]]);
    expect(data.withUsage).toEqual([1]);
    expect(data.byColumn).toEqual([null, points[0], null]);
  });

  it('steps by the hour for hours', () => {
    const data = chartData([], { from: '2026-11-01T22:00:00.000Z', to: '2026-11-02T01:00:00.000Z', granularity: 'hour' });
    expect(data.columns[0]).toEqual([0, 1, 2].map((h) => Date.UTC(2026, 10, 1, 22 + h) / 1000));
    expect(data.withUsage).toEqual([]);
  });
});

describe('spanRange', () => {
  const now = new Date('2026-12-01T19:35:46.123Z');

  it('covers the last 30 UTC days, today included', () => {
    expect(spanRange('days', now)).toEqual({ from: '2026-11-02T00:00:00.000Z', to: '2026-12-02T00:00:00.000Z', granularity: 'day' });
  });

  it('covers the last 48 hours, this one included', () => {
    expect(spanRange('hours', now)).toEqual({ from: '2026-11-29T20:00:00.000Z', to: '2026-12-01T20:00:00.000Z', granularity: 'hour' });
  });
});
