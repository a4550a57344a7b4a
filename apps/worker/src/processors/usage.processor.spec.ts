import { describe, expect, it } from '@jest/globals';
import { Admission } from './usage.processor.js';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Admission', () => {
  it('lets work in up to the limit, one heavy item alone, and the rest in order as room is made', async () => {
    const gate = new Admission(10);
    const order: string[] = [];
    await gate.enter(6);
    const b = gate.enter(6).then(() => order.push('b'));
    const c = gate.enter(1).then(() => order.push('c'));
    await tick();
    expect(order).toEqual([]);
    gate.leave(6);
    await Promise.all([b, c]);
    expect(order).toEqual(['b', 'c']);
    gate.leave(6);
    gate.leave(1);
    await gate.enter(50);
  });
});
