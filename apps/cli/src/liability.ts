import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { LIABILITY_FIGURES, formatMoney, liabilityGap } from '@app/billing';
import { CreditLiabilityService } from '@app/db';
import { args, cliContext } from './cli-context.js';

const USAGE = 'usage: npm run liability -- --period YYYY-MM [--csv file.csv]';

const { values } = args({ options: { period: { type: 'string' }, csv: { type: 'string' } } }, USAGE);
if (!values.period) {
  console.error(USAGE);
  process.exit(2);
}

const app = await cliContext();
try {
  const report = await app.get(CreditLiabilityService).report(values.period);
  console.log(`credit liability ${report.period}: ${report.rows.length} accounts, ${report.frozen ? `frozen ${report.frozenAt!.toISOString()}` : `as of ${report.asOf.toISOString()} (open)`}`);
  for (const figure of LIABILITY_FIGURES) console.log(`  ${figure.padEnd(14)} ${formatMoney(report.totals[figure])}`);
  const gap = liabilityGap(report.totals);
  console.log(gap.isZero() ? '  opening + granted - burned - expired - voided = closing: exact' : `  IDENTITY OFF BY ${formatMoney(gap)}`);
  if (values.csv) {
    await pipeline(CreditLiabilityService.csv(report), createWriteStream(values.csv));
    console.log(`wrote ${report.rows.length} rows to ${values.csv}`);
  }
  process.exitCode = gap.isZero() ? 0 : 1;
} catch (error) {
  console.error(`liability: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await app.close();
}
