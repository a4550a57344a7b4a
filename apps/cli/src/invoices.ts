import 'reflect-metadata';
import { type DynamicModule, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '@app/config';
import { DbModule, InvoicesRepository, InvoicingService } from '@app/db';

const USAGE = 'usage: npm run invoices -- --period YYYY-MM [--finalize]';

@Module({})
class InvoicesCliModule {
  static forRoot(config: ReturnType<typeof loadConfigOrExit>): DynamicModule {
    return { module: InvoicesCliModule, imports: [DbModule.forRoot(config, { poolSize: 4, applicationName: 'billing-cli' })] };
  }
}

let args: { period?: string; finalize?: boolean };
try {
  args = parseArgs({ options: { period: { type: 'string' }, finalize: { type: 'boolean', default: false } } }).values;
} catch (error) {
  console.error(`${(error as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (!args.period) {
  console.error(USAGE);
  process.exit(2);
}

const config = loadConfigOrExit([]);
const app = await NestFactory.createApplicationContext(InvoicesCliModule.forRoot(config), { logger: ['error'] });
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
