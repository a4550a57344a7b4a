import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, drained, startService, type TestService } from './support/api.js';
import { createAccount, usageEvent } from './support/factories.js';
import { fetchPdf, pdfText } from './support/pdf.js';
import { scratchDatabase } from './support/scratch.js';

// Its own database: generating a month's invoices covers every account with usage in it.
let scratch: Awaited<ReturnType<typeof scratchDatabase>>;
let service: TestService;

beforeAll(async () => {
  scratch = await scratchDatabase();
  service = await startService({
    DATABASE_URL: scratch.url,
    INVOICE_SELLER_NAME: 'Hanbit Cloud Billing GmbH',
    INVOICE_SELLER_ADDRESS: ['Friedrichstraße 10', '10117 Berlin'],
    INVOICE_SELLER_TAX_ID: 'DE123456789',
    INVOICE_SELLER_EMAIL: 'invoices@hanbit.example',
  });
});
afterAll(async () => {
  await service?.close();
  await scratch?.drop();
});

describe('GET /v1/invoices/{id}/pdf', () => {
  it('prints the configured seller, and account names in Hangul and Cyrillic as written', async () => {
    const { api, queue } = service;
    const names = ['주식회사 한빛', 'ООО Ромашка'];
    const accounts = await Promise.all(names.map((name) => createAccount(api, { name })));
    await queue.add('usage-batch', { events: accounts.map(({ account_id }) => usageEvent(account_id, { occurred_at: '2026-10-05T12:00:00Z' })) });
    await drained(queue);
    await api.http().post('/v1/invoices/generate').set(ADMIN).send({ period: '2026-10' }).expect(200);

    for (const [i, { account_id }] of accounts.entries()) {
      const [invoice] = (await api.http().get(`/v1/accounts/${account_id}/invoices`).set(ADMIN).expect(200)).body.data;
      const text = await pdfText((await fetchPdf(api, `/v1/invoices/${invoice.invoice_id}/pdf`)).pdf);
      for (const expected of [names[i]!, 'Hanbit Cloud Billing GmbH', 'Friedrichstraße 10', '10117 Berlin', 'Tax ID DE123456789', 'invoices@hanbit.example', invoice.number]) {
        expect(text).toContain(expected);
      }
    }
  });
});
