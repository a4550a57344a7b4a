import { describe, expect, it } from '@jest/globals';
import { formatInstant, formatPeriod, formatTick, label } from './format';

const at = (iso: string) => Date.parse(iso) / 1000;

describe('dates, always in UTC', () => {
  it('writes instants and periods', () => {
    expect(formatInstant('2026-11-24T10:05:59.999Z')).toBe('2026-11-24 10:05 UTC');
    expect(formatPeriod('2026-11-24T00:00:00.000Z', 'day')).toBe('24 Nov 2026');
    expect(formatPeriod('2026-11-24T22:00:00.000Z', 'hour')).toBe('24 Nov, 22:00 UTC');
  });

  it('labels axis ticks with the day at midnight and the hour otherwise', () => {
    expect([formatTick(at('2026-11-24T00:00:00Z'), 'day'), formatTick(at('2026-11-24T00:00:00Z'), 'hour'), formatTick(at('2026-11-24T15:00:00Z'), 'hour')]).toEqual([
      '24 Nov',
      '24 Nov',
      '15:00',
    ]);
  });

  it('turns codes into words', () => {
    expect([label('purchase'), label('cached_input')]).toEqual(['Purchase', 'Cached input']);
  });
});
