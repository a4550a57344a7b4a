import { BillingException } from '@app/billing';
import { ReconciliationService } from '@app/db';
import { args, cliContext, instant } from './cli-context.js';

const USAGE = 'usage: npm run reconcile -- [--from ISO] [--to ISO] [--json]  (from and to on whole UTC hours)';

const { values } = args({ options: { from: { type: 'string' }, to: { type: 'string' }, json: { type: 'boolean', default: false } } }, USAGE);
const range = { from: instant(values.from, 'from', USAGE), to: instant(values.to, 'to', USAGE) };

const app = await cliContext();
try {
  process.stderr.write('reconciling...\n');
  const report = await app.get(ReconciliationService).run(range);
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    for (const check of report.checks) {
      console.log(`${check.ok ? 'ok  ' : 'FAIL'} ${check.name.padEnd(30)} expected ${check.expected}, actual ${check.actual}`);
    }
    for (const d of report.discrepancies) console.log(`  ${d.check}: ${d.subject} ${d.id}: expected ${d.expected}, actual ${d.actual}`);
    if (report.truncated) console.log('  (more discrepancies than listed)');
    console.log(report.ok ? 'reconciliation ok' : `reconciliation FAILED: ${report.discrepancies.length} discrepancies`);
  }
  process.exitCode = report.ok ? 0 : 1;
} catch (error) {
  // A refused range (BillingException) is a usage error like a bad flag; anything else could not run.
  console.error(`reconcile: ${(error as Error).message}${error instanceof BillingException ? `\n${USAGE}` : ''}`);
  process.exitCode = 2;
} finally {
  await app.close();
}
