import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import { Periodic } from './periodic.js';

describe('Periodic', () => {
  it('runs at start, then again after the delay each run answers', async () => {
    const at: number[] = [];
    const started = performance.now();
    const task = new Periodic(async () => {
      at.push(performance.now() - started);
      return at.length === 1 ? 80 : 10_000;
    }, 10_000);
    task.start();
    await sleep(40);
    expect(at.length).toBe(1);
    await sleep(120);
    expect(at.length).toBe(2);
    expect(at[1] - at[0]).toBeGreaterThanOrEqual(75);
    await task.stop();
  });

  it('never runs twice at once, and stop() waits for the run in progress and starts none after it', async () => {
    let inside = 0;
    let most = 0;
    let runs = 0;
    let finished = 0;
    const task = new Periodic(async () => {
      runs += 1;
      inside += 1;
      most = Math.max(most, inside);
      await sleep(30);
      inside -= 1;
      finished += 1;
      return 1;
    }, 1);
    task.start();
    // Stopped once the second run has begun, most likely during it (no fixed wait: a loaded machine runs timers late).
    while (runs < 2) await sleep(5);
    const stopping = task.stop();
    const runsWhenStopped = runs;
    await stopping;
    expect(finished).toBe(runsWhenStopped);
    await sleep(60);
    expect(runs).toBe(runsWhenStopped);
    expect(most).toBe(1);
  });

  it('tries a rejected run again after afterRejectionMs', async () => {
    let runs = 0;
    const task = new Periodic(async () => {
      runs += 1;
      if (runs === 1) throw new Error('database down');
      return 10_000;
    }, 30);
    task.start();
    await sleep(10);
    expect(runs).toBe(1);
    await sleep(80);
    expect(runs).toBe(2);
    await task.stop();
  });
});
