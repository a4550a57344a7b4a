import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { CrlfRecords } from './exports.service.js';

async function convert(chunks: string[]): Promise<{ text: string; records: number }> {
  let records = 0;
  const t = new CrlfRecords(['id', 'note'], () => records++);
  const out: Buffer[] = [];
  t.on('data', (b: Buffer) => out.push(b));
  const done = new Promise((resolve, reject) => t.on('end', resolve).on('error', reject));
  for (const c of chunks) t.write(Buffer.from(c));
  t.end();
  await done;
  return { text: Buffer.concat(out).toString(), records };
}

/** Records as COPY writes them for the exports: each closed by an empty last column. */
const COPIED = '1,"a\nb",\n2,"q""\n"",""z",\n3,plain,\n4,"ends in a comma,",\n5,,\n';

describe('CrlfRecords', () => {
  it('writes the header, drops the empty last column, ends records with CRLF, and leaves quoted line breaks and commas alone', async () => {
    expect(await convert([COPIED])).toEqual({
      text: 'id,note\r\n1,"a\nb"\r\n2,"q""\n"",""z"\r\n3,plain\r\n4,"ends in a comma,"\r\n5,\r\n',
      records: 5,
    });
  });

  it('writes the header alone when there are no records', async () => {
    expect(await convert([])).toEqual({ text: 'id,note\r\n', records: 0 });
  });

  it('gives the same bytes whatever the chunk boundaries, a cut between the last comma and its line break too', () =>
    fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 12 }), { maxLength: 16 }), async (cuts) => {
        const chunks: string[] = [];
        let at = 0;
        for (const cut of cuts) {
          chunks.push(COPIED.slice(at, at + cut));
          at += cut;
        }
        chunks.push(COPIED.slice(at));
        expect(await convert(chunks.filter((c) => c.length))).toEqual(await convert([COPIED]));
      }),
      { numRuns: 300 },
    ));

  it('fails the stream on a record without its empty last column, rather than write a CSV short of its CRs', async () => {
    await expect(convert(['1,plain,\n2,plain\n'])).rejects.toThrow('CSV record without its empty last column');
    await expect(convert(['1,plain\n'])).rejects.toThrow('CSV record without its empty last column');
  });
});
