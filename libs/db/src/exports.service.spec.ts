import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CrlfRecords } from './exports.service.js';

async function convert(chunks: string[]): Promise<{ text: string; records: number }> {
  let records = 0;
  const t = new CrlfRecords(() => records++);
  const out: Buffer[] = [];
  t.on('data', (b: Buffer) => out.push(b));
  const done = new Promise((resolve) => t.on('end', resolve));
  for (const c of chunks) t.write(Buffer.from(c));
  t.end();
  await done;
  return { text: Buffer.concat(out).toString(), records };
}

describe('CrlfRecords', () => {
  it('ends records with CRLF and leaves line breaks inside quoted fields alone', async () => {
    expect(await convert(['a,b\n1,"x\ny"\n2,"say ""hi""\n"\n'])).toEqual({ text: 'a,b\r\n1,"x\ny"\r\n2,"say ""hi""\n"\r\n', records: 3 });
  });

  it('gives the same bytes whatever the chunk boundaries', () =>
    fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 30 }), { maxLength: 10 }), async (cuts) => {
        const text = 'id,note\n1,"a\nb"\n2,"q""\n""z"\n3,plain\n';
        const chunks: string[] = [];
        let at = 0;
        for (const cut of cuts) {
          chunks.push(text.slice(at, at + cut));
          at += cut;
        }
        chunks.push(text.slice(at));
        expect(await convert(chunks.filter((c) => c.length))).toEqual(await convert([text]));
      }),
    ));
});
