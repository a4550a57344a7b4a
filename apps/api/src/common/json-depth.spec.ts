import { describe, expect, it } from '@jest/globals';
import { jsonDepthExceeds } from './json-depth.js';

describe('jsonDepthExceeds', () => {
  const nested = (depth: number) => JSON.parse('['.repeat(depth) + ']'.repeat(depth));

  it('measures nesting of arrays and objects', () => {
    expect(jsonDepthExceeds({ a: { b: [1] } }, 3)).toBe(false);
    expect(jsonDepthExceeds({ a: { b: [{}] } }, 3)).toBe(true);
    expect(jsonDepthExceeds('scalar', 0)).toBe(false);
  });

  it('handles a body nested 100,000 deep without overflowing the stack', () => {
    expect(jsonDepthExceeds(nested(100_000), 64)).toBe(true);
    expect(jsonDepthExceeds(nested(64), 64)).toBe(false);
  });
});
