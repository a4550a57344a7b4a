import { describe, expect, it } from '@jest/globals';
import { GroupCommit } from './group-commit.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('GroupCommit', () => {
  it('flushes a lone item at once and gathers the items that arrive during a flush', async () => {
    const flushes: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const group = new GroupCommit<number, string>(async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await gate;
      return items.map((i) => `done ${i}`);
    }, 100);
    const first = group.submit(1, 1);
    const rest = [2, 3, 4].map((i) => group.submit(i, 1));
    await tick();
    expect(flushes).toEqual([[1]]);
    release();
    expect(await Promise.all([first, ...rest])).toEqual(['done 1', 'done 2', 'done 3', 'done 4']);
    expect(flushes).toEqual([[1], [2, 3, 4]]);
    expect(group.idle).toBe(true);
  });

  it('never puts more than maxWeight in a flush, but never splits an item', async () => {
    const flushes: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const group = new GroupCommit<number, number>(async (items) => {
      flushes.push(items);
      if (flushes.length === 1) await gate;
      return items;
    }, 1000);
    const all = [group.submit(0, 1), group.submit(1, 600), group.submit(2, 600), group.submit(3, 1500)];
    await tick();
    release();
    await Promise.all(all);
    expect(flushes).toEqual([[0], [1], [2], [3]]);
  });

  it('rejects every item of a failed flush, and carries on', async () => {
    let calls = 0;
    const group = new GroupCommit<number, number>(async (items) => {
      calls += 1;
      if (calls === 1) throw new Error('boom');
      return items;
    }, 10);
    await expect(group.submit(1, 1)).rejects.toThrow('boom');
    await expect(group.submit(2, 1)).resolves.toBe(2);
  });
});
