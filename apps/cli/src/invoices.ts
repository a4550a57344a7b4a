import { InvoicesRepository, InvoicingService } from '@app/db';
import { args as parse, cliContext } from './cli-context.js';

const USAGE = 'usage: npm run invoices -- --period YYYY-MM [--finalize]';

const args = parse({ options: { period: { type: 'string' }, finalize: { type: 'boolean', default: false } } }, USAGE).values;
if (!args.period) {
  console.error(USAGE);
  process.exit(2);
}

const app = await cliContext();
const invoicing = app.get(InvoicingService);
const progress = (label: string, done: number, total: number) =>
  process.stdout.write(`\r${label}: ${done}/${total} accounts${done === total ? '\n' : ''}`);

try {
  const result = await invoicing.generate(args.period, (p) => progress(`generating ${p.period}`, p.done, p.total));
  console.log(`${result.period}: ${result.accounts} accounts, ${result.created} invoices created, ${result.refreshed} drafts refreshed`);
  if (args.finalize) {
    const drafts = await app.get(InvoicesRepository).draftsOf(args.period);
    let done = 0;
    const failed: string[] = [];
    for (const draft of drafts) {
      await invoicing.finalize(draft.invoice_id).catch((error: Error) => failed.push(`${draft.number}: ${error.message}`));
      progress(`finalizing ${args.period}`, ++done, drafts.length);
    }
    console.log(`${drafts.length - failed.length} invoices finalized${failed.length ? `, ${failed.length} not:\n  ${failed.join('\n  ')}` : ''}`);
    if (failed.length) process.exitCode = 1;
  }
} catch (error) {
  console.error(`invoices: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await app.close();
}
