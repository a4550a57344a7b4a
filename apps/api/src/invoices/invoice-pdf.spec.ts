import { describe, it, expect, beforeAll } from '@jest/globals';
import {
  renderInvoicePdf,
  formatInstant,
  formatTokens,
  monthName,
  type InvoiceDocument,
  type InvoiceLineDocument,
  type Seller,
} from './invoice-pdf.js';

type PdfJs = typeof import('pdfjs-dist/legacy/build/pdf.mjs');
let pdfjs: PdfJs;

beforeAll(async () => {
  pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
});

interface Extracted {
  /** Text items per page, in content order. */
  pages: string[][];
  info: Record<string, unknown>;
}

async function extract(buf: Buffer): Promise<Extracted> {
  const doc = await pdfjs.getDocument({
    data: new Uint8Array(buf),
    useSystemFonts: false,
    disableFontFace: true,
    verbosity: pdfjs.VerbosityLevel.ERRORS, // no standard-font-data warnings: only the text is needed
  }).promise;
  try {
    const pages: string[][] = [];
    for (let n = 1; n <= doc.numPages; n++) {
      const page = await doc.getPage(n);
      const content = await page.getTextContent();
      pages.push(content.items.flatMap((item) => ('str' in item && item.str.trim() !== '' ? [item.str] : [])));
    }
    const meta = await doc.getMetadata();
    return { pages, info: meta.info as Record<string, unknown> };
  } finally {
    await doc.destroy();
  }
}

const all = (e: Extracted) => e.pages.flat();

const line = (over: Partial<InvoiceLineDocument> = {}): InvoiceLineDocument => ({
  model: 'qwen3-5-4b',
  token_class: 'input',
  rate_card_version: 3,
  unit_price_per_million: '0.04',
  tokens: 1024,
  amount: '0.00004096',
  late: false,
  usage_period: '2026-11',
  ...over,
});

const invoice = (over: Partial<InvoiceDocument> = {}): InvoiceDocument => ({
  invoice_id: '7f7c1a52-3c1e-4c55-9f0e-0d4b5e7a9c11',
  number: 'INV-2026-11-000123',
  account_id: 'acc_01HZX3K9Q2M7T8V4W5Y6Z7A8B9',
  account_name: 'Acme Robotics Inc.',
  period: '2026-11',
  period_start: '2026-11-01T00:00:00.000Z',
  period_end: '2026-12-01T00:00:00.000Z',
  status: 'finalized',
  currency: 'USD',
  issued_at: '2026-12-01T00:05:12.000Z',
  opening_balance: '250.00',
  credits_total: '100.00',
  usage_total: '1491.364011201234567891',
  usage_total_rounded: '1491.36',
  closing_balance: '-1141.364011201234567891',
  lines: [
    line(),
    line({ token_class: 'cached_input', tokens: 987_654_321, unit_price_per_million: '0.01', amount: '9.87654321' }),
    line({ token_class: 'output', tokens: 12_345_678_901, unit_price_per_million: '0.12', amount: '1481.48146812' }),
    line({ model: 'qwen3-72b-instruct', tokens: 42, unit_price_per_million: '2.4', amount: '0.000100800000000000' }),
    line({ model: 'qwen3-72b-instruct', token_class: 'output', tokens: 1_000_000_000_000, amount: '0.123456789012345678' }),
    line({ model: 'qwen3-coder-480b', token_class: 'output', tokens: 7, amount: '0.00000028' }),
    line({ late: true, usage_period: '2026-10', rate_card_version: 2, tokens: 2048, amount: '0.0001024' }),
    line({ late: true, usage_period: '2026-10', rate_card_version: 2, token_class: 'output', amount: '0.0002048' }),
  ],
  ...over,
});

const SELLER: Seller = { name: 'Example Billing B.V.', address: ['Herengracht 1', '1015 BA Amsterdam'], taxId: 'NL123456789B01', email: 'invoices@example.org' };
const render = (inv: InvoiceDocument, seller: Seller | null = SELLER) => renderInvoicePdf(inv, seller);

const LATE_HEADING = 'Late usage from October 2026 (billed after that invoice was finalized)';

describe('renderInvoicePdf', () => {
  it('produces a PDF with title and author metadata', async () => {
    const buf = await render(invoice());
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(buf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(buf.length).toBeLessThan(20_000);
    const { info } = await extract(buf);
    expect(info.Title).toBe('Invoice INV-2026-11-000123');
    expect(info.Author).toBe('Example Billing B.V.');
  });

  it('shows number, account, period, every line amount and all totals exactly', async () => {
    const inv = invoice();
    const text = all(await extract(await render(inv)));
    for (const s of [
      'Invoice',
      inv.number,
      inv.account_name,
      inv.account_id,
      'November 2026, UTC',
      '2026-11-01 00:00 UTC',
      '2026-12-01 00:00 UTC (exclusive)',
      '2026-12-01 00:05:12 UTC',
      'Finalized',
      'USD (all amounts)',
      inv.usage_total,
      inv.usage_total_rounded,
      inv.opening_balance,
      inv.credits_total,
      inv.closing_balance,
      'Usage (exact)',
      'Usage (rounded to cents)',
      'Opening balance',
      '= Closing balance',
    ]) {
      expect(text).toContain(s);
    }
    for (const l of inv.lines) expect(text).toContain(l.amount);
    // Exact strings, not re-rounded or trimmed.
    expect(text).toContain('0.000100800000000000');
    // Table header and formatted token counts.
    for (const h of ['Model', 'Class', 'Rate card', 'Unit price / 1M', 'Tokens', 'Amount (USD)']) expect(text).toContain(h);
    expect(text).toContain('1,000,000,000,000');
    expect(text).toContain('12,345,678,901');
    expect(text).toContain('Cached input');
    expect(text).toContain('v3');
    // Usage appears as the exact total and again as the amount subtracted in the balance block.
    expect(text.filter((s) => s === inv.usage_total)).toHaveLength(2);
    expect(text).not.toContain('DRAFT');
    expect(text).not.toContain('VOID');
  });

  it('shows credits that expired or were voided in the month apart, and only when there were some', async () => {
    const plain = all(await extract(await render(invoice())));
    expect(plain).not.toContain('\u2013 Credits expired');
    expect(plain).not.toContain('\u2013 Credits voided');
    const text = all(await extract(await render(invoice({ expired_total: '1.25', voided_total: '10', closing_balance: '-1152.614011201234567891' }))));
    expect(text).toContain('\u2013 Credits expired');
    expect(text).toContain('1.25');
    expect(text).toContain('\u2013 Credits voided');
    expect(text).toContain('-1152.614011201234567891');
  });

  it('groups late lines after the regular ones under their month heading', async () => {
    const inv = invoice();
    const text = all(await extract(await render(inv)));
    const heading = text.indexOf(LATE_HEADING);
    expect(heading).toBeGreaterThan(-1);
    expect(text).toContain('Usage for November 2026');
    expect(text.indexOf('Usage for November 2026')).toBeLessThan(heading);
    for (const l of inv.lines) {
      const at = text.indexOf(l.amount);
      if (l.late) expect(at).toBeGreaterThan(heading);
      else expect(at).toBeLessThan(heading);
    }
    // Late lines carry the rate card of their own month.
    expect(text.slice(heading)).toContain('v2');
  });

  it('orders several late months oldest first, each under its own heading', async () => {
    const inv = invoice({
      lines: [
        line({ late: true, usage_period: '2026-10', amount: '0.1' }),
        line({ amount: '0.2' }),
        line({ late: true, usage_period: '2026-08', amount: '0.3' }),
      ],
    });
    const text = all(await extract(await render(inv)));
    const aug = text.indexOf('Late usage from August 2026 (billed after that invoice was finalized)');
    const oct = text.indexOf(LATE_HEADING);
    expect(text.indexOf('0.2')).toBeLessThan(aug);
    expect(aug).toBeLessThan(text.indexOf('0.3'));
    expect(text.indexOf('0.3')).toBeLessThan(oct);
    expect(oct).toBeLessThan(text.indexOf('0.1'));
  });

  it('has no regular-usage heading when there is no late usage', async () => {
    const text = all(await extract(await render(invoice({ lines: [line()] }))));
    expect(text).not.toContain('Usage for November 2026');
    expect(text).toContain('0.00004096');
  });

  it('marks drafts with a DRAFT watermark and banner, without an issue date', async () => {
    const { pages } = await extract(await render(invoice({ status: 'draft', issued_at: null })));
    const text = pages.flat();
    expect(text.filter((s) => s === 'DRAFT').length).toBeGreaterThanOrEqual(2); // watermark, badge, banner
    expect(text).toContain('Draft (not final)');
    expect(text.some((s) => s.startsWith('Issued'))).toBe(false);
  });

  it('puts the DRAFT watermark on every page', async () => {
    const lines = Array.from({ length: 120 }, (_, i) => line({ amount: `0.${i}` }));
    const { pages } = await extract(await render(invoice({ status: 'draft', issued_at: null, lines })));
    expect(pages.length).toBeGreaterThan(1);
    for (const page of pages) expect(page).toContain('DRAFT');
  });

  it('marks void invoices with VOID', async () => {
    const text = all(await extract(await render(invoice({ status: 'void' }))));
    expect(text).toContain('VOID');
    expect(text).toContain('Void');
    expect(text).not.toContain('DRAFT');
  });

  it('says so when there is no usage', async () => {
    const inv = invoice({ lines: [], usage_total: '0', usage_total_rounded: '0.00', closing_balance: '350.00' });
    const { pages } = await extract(await render(inv));
    expect(pages).toHaveLength(1);
    expect(pages[0]).toContain('No usage this period');
    expect(pages[0]).toContain('350.00');
    expect(pages[0]).toContain('Page 1 of 1');
  });

  it('breaks 300 lines over several pages, repeating the table header and keeping every line', async () => {
    const lines = Array.from({ length: 300 }, (_, i) =>
      line({ tokens: 1_000_000 + i, amount: `0.${String(i).padStart(6, '0')}7`, ...(i >= 290 ? { late: true, usage_period: '2026-10' } : {}) }),
    );
    const inv = invoice({ lines });
    const { pages } = await extract(await render(inv));
    expect(pages.length).toBeGreaterThan(1);
    pages.forEach((page, i) => {
      expect(page).toContain(`Page ${i + 1} of ${pages.length}`);
      expect(page.some((s) => s.includes(inv.number))).toBe(true);
    });
    // Every page carrying lines starts them under a repeated table header.
    const withLines = pages.filter((p) => p.some((s) => /^0\.\d{6}7$/.test(s)));
    expect(withLines.length).toBeGreaterThan(1);
    for (const page of withLines) {
      expect(page).toContain('Unit price / 1M');
      expect(page).toContain('Amount (USD)');
    }
    // Continued groups are labelled as such.
    expect(pages[1]).toContain('Usage for November 2026 (continued)');
    const text = pages.flat();
    for (const l of lines) expect(text).toContain(l.amount);
    expect(text.filter((s) => s === LATE_HEADING || s === `${LATE_HEADING} (continued)`).length).toBeGreaterThanOrEqual(1);
    expect(text.indexOf(lines[289]!.amount)).toBeLessThan(text.findIndex((s) => s.startsWith('Late usage from October 2026')));
    // Totals come once, at the end.
    expect(pages.at(-1)).toContain('= Closing balance');
    expect(text.filter((s) => s === '= Closing balance')).toHaveLength(1);
  });

  it('prints account names in Hangul and Cyrillic exactly as written', async () => {
    for (const name of ['주식회사 한빛', 'ООО Ромашка']) {
      const text = all(await extract(await render(invoice({ account_name: name }))));
      expect(text).toContain(name);
      expect(text.join(' ')).not.toContain('?');
    }
  });

  it('prints Latin, Greek and CJK names as written, and replaces only what no embedded font has', async () => {
    for (const name of ['Société Générale des Données – Zürich ÆØÅ ß € “quoted”', 'Łódź Przedsiębiorstwo Česká', 'Ελληνική Εταιρεία', '株式会社 東京']) {
      const first = (await extract(await render(invoice({ account_name: name })))).pages[0]!;
      expect(first.join(' ')).toContain(name); // long ones wrap at a space
    }
    const mixed = all(await extract(await render(invoice({ account_name: 'Acme 한빛 שלום 😀' }))));
    expect(mixed.join(' ')).toContain('Acme 한빛 ???? ?'); // a face change starts a new text item
  });

  it('drops control and zero-width characters and prints tabs as spaces', async () => {
    const text = all(await extract(await render(invoice({ account_name: 'a\u0000b\u200bc\td' }))));
    expect(text).toContain('abc d');
  });

  it('wraps long account names over lines without losing a word', async () => {
    const long = Array.from({ length: 12 }, (_, i) => `Division${i}`).join(' ');
    const { pages } = await extract(await render(invoice({ account_name: long })));
    const words = pages[0]!.join(' ');
    expect(words).toContain('Division0 Division1');
    expect(words).toContain('Division11');
    expect(pages[0]).toContain('0.00004096');
  });

  it('prints the configured seller: name, address lines, tax id and email', async () => {
    const { pages, info } = await extract(await render(invoice()));
    expect(pages[0]).toEqual(expect.arrayContaining(['Example Billing B.V.', 'Herengracht 1', '1015 BA Amsterdam', 'Tax ID NL123456789B01', 'invoices@example.org']));
    expect(pages[0]).toContain('Example Billing B.V. · Invoice INV-2026-11-000123'); // the footer (text extraction collapses the double spaces)
    expect(info.Author).toBe('Example Billing B.V.');
  });

  it('prints no seller block when no seller is configured', async () => {
    const { pages, info } = await extract(await render(invoice(), null));
    expect(pages[0]!.slice(0, 2)).toEqual(['Invoice', 'INV-2026-11-000123']);
    expect(pages[0]).toContain('Invoice INV-2026-11-000123');
    expect(info.Author).toBeUndefined();
  });

  it('shrinks or wraps very long numbers instead of altering them', async () => {
    const inv = invoice({ lines: [line({ unit_price_per_million: '1.123456789012', amount: '12.123456789012345678' })] });
    const text = all(await extract(await render(inv)));
    expect(text).toContain('1.123456789012');
    expect(text).toContain('12.123456789012345678');
  });
});

describe('formatting helpers', () => {
  it('formats months, instants and token counts', () => {
    expect(monthName('2026-11')).toBe('November 2026');
    expect(monthName('2026-01')).toBe('January 2026');
    expect(monthName('bogus')).toBe('bogus');
    expect(formatInstant('2026-11-01T00:00:00.000Z')).toBe('2026-11-01 00:00 UTC');
    expect(formatInstant('2026-12-01T00:05:12.000Z')).toBe('2026-12-01 00:05:12 UTC');
    expect(formatInstant('not a date')).toBe('not a date');
    expect(formatTokens(0)).toBe('0');
    expect(formatTokens(999)).toBe('999');
    expect(formatTokens(1000)).toBe('1,000');
    expect(formatTokens(1_234_567_890_123)).toBe('1,234,567,890,123');
  });

});
