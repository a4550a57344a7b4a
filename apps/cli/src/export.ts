import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parsePeriod } from '@app/billing';
import { EXPORT_KINDS, ExportsService, type ExportKind } from '@app/db';
import { args, cliContext, instant } from './cli-context.js';

const USAGE = 'usage: npm run export -- usage|ledger|invoices [--from ISO] [--to ISO] [--period YYYY-MM] --out file.csv';

const { values, positionals } = args(
  { allowPositionals: true, options: { from: { type: 'string' }, to: { type: 'string' }, period: { type: 'string' }, out: { type: 'string' } } },
  USAGE,
);
const kind = positionals[0] as ExportKind;
if (!EXPORT_KINDS.includes(kind) || !values.out || (kind === 'invoices' && !parsePeriod(values.period))) {
  console.error(USAGE);
  process.exit(2);
}
const filter = { from: instant(values.from, 'from', USAGE), to: instant(values.to, 'to', USAGE), period: values.period };

const app = await cliContext();
let rows = 0;
const progress = setInterval(() => process.stderr.write(`\rexport ${kind}: ${rows} rows`), 1000);
try {
  const csv = await app.get(ExportsService).csv(kind, filter, () => rows++);
  await pipeline(csv, createWriteStream(values.out));
  process.stderr.write(`\rexport ${kind}: ${rows} rows\n`);
  console.log(`wrote ${rows} rows to ${values.out}`);
} catch (error) {
  console.error(`export: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  clearInterval(progress);
  await app.close();
}
