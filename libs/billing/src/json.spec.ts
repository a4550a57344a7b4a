import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_JSON_DEPTH, canonicalJson, inspectJson, isPlainObject, isStorableString } from './json.js';

// The reference inspectJson is held to: the three separate walks it replaced on the hot path.

/**
 * Why `value` is not plain, storable JSON (null, booleans, finite numbers, storable
 * strings, arrays, plain objects, nested at most MAX_JSON_DEPTH deep), or null if it is.
 */
function jsonProblem(value: unknown, depth = 0): string | null {
  if (value === null || typeof value === 'boolean') return null;
  if (typeof value === 'number') return Number.isFinite(value) ? null : 'contains a non-finite number';
  if (typeof value === 'string') return isStorableString(value) ? null : 'contains a NUL character or an unpaired surrogate';
  if (depth >= MAX_JSON_DEPTH) return `is nested more than ${MAX_JSON_DEPTH} levels deep`;
  if (Array.isArray(value)) {
    for (const item of value) {
      const problem = jsonProblem(item, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) {
      if (!isStorableString(key)) return 'contains a key with a NUL character or an unpaired surrogate';
      const problem = jsonProblem(item, depth + 1);
      if (problem) return problem;
    }
    return null;
  }
  return `contains a value that is not JSON (${typeof value})`;
}

/** Size of the JSON text of `value` in UTF-8 bytes. */
const jsonByteLength = (value: unknown): number => Buffer.byteLength(JSON.stringify(value) ?? 'null', 'utf8');

describe('inspectJson', () => {
  it('gives what jsonProblem, canonicalJson and jsonByteLength give, in one walk', () => {
    const text = fc.string({ unit: 'binary', maxLength: 12 });
    const value = fc.letrec((tie) => ({
      json: fc.oneof({ depthSize: 'small' }, fc.constant(null), fc.boolean(), fc.double(), fc.integer(), text, fc.array(tie('json'), { maxLength: 4 }), fc.dictionary(text, tie('json'), { maxKeys: 4 })),
    })).json;
    fc.assert(
      fc.property(value, (v) => {
        const inspected = inspectJson(v);
        const problem = jsonProblem(v);
        if (problem !== null) {
          expect(inspected).toEqual({ problem });
        } else {
          expect(inspected).toEqual({ text: canonicalJson(v) });
          expect(Buffer.byteLength(inspected.text!, 'utf8')).toBe(jsonByteLength(v));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('refuses nesting deeper than MAX_JSON_DEPTH and an unstorable key', () => {
    let deep: unknown = 1;
    for (let i = 0; i <= MAX_JSON_DEPTH; i++) deep = [deep];
    expect(inspectJson(deep)).toEqual({ problem: `is nested more than ${MAX_JSON_DEPTH} levels deep` });
    expect(inspectJson({ 'a\u0000': 1 })).toEqual({ problem: 'contains a key with a NUL character or an unpaired surrogate' });
    expect(inspectJson({ b: [1, { d: 'x', c: null }], a: true })).toEqual({ text: '{"a":true,"b":[1,{"c":null,"d":"x"}]}' });
  });
});
