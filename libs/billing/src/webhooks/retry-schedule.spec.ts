import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { RETRY_FOR_MS, nextRetryAt, nominalRetryDelayMs, nominalSchedule, retryDelayMs } from './retry-schedule.js';

describe('the retry schedule', () => {
  it('retries first within 10 s, then three times later each time, at most 6 h apart', () => {
    expect([1, 2, 3, 4, 8, 9, 12].map(nominalRetryDelayMs)).toEqual([5_000, 15_000, 45_000, 135_000, 10_935_000, 21_600_000, 21_600_000]);
    expect(retryDelayMs(1, () => 0)).toBe(4_000);
    expect(retryDelayMs(1, () => 0.999999)).toBeLessThanOrEqual(6_000);
  });

  it('keeps trying for at least 24 hours: its last try comes after 24 h', () => {
    const schedule = nominalSchedule();
    expect(schedule.at(-2)!.atMs).toBeLessThan(RETRY_FOR_MS);
    expect(schedule.at(-1)!.atMs).toBeGreaterThanOrEqual(RETRY_FOR_MS);
    expect(schedule).toHaveLength(12);
  });

  it('gives up on a failure 24 h or more after the first try, whatever the jitter did', () => {
    const first = new Date('2026-12-01T00:00:00Z');
    for (const random of [() => 0, () => 0.5, () => 0.999]) {
      let now = first;
      let failures = 0;
      let tries = 1;
      for (;;) {
        failures++;
        const next = nextRetryAt(first, failures, now, random);
        if (!next) break;
        now = next;
        tries++;
      }
      expect(now.getTime() - first.getTime()).toBeGreaterThanOrEqual(RETRY_FOR_MS);
      expect(tries).toBeGreaterThanOrEqual(12);
    }
  });
});

describe('the schedule in docs/integration.md', () => {
  it('lists every retry with its nominal delay', () => {
    const doc = readFileSync('docs/integration.md', 'utf8');
    for (const { retry, delayMs } of nominalSchedule()) expect(doc).toContain(`| ${retry} | ${(delayMs / 1000).toLocaleString('en-US')} s |`);
  });
});
