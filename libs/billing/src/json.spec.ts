import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { MAX_JSON_DEPTH, canonicalJson, inspectJson, jsonByteLength, jsonProblem } from './json.js';

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
