import PDFDocument from 'pdfkit';
import { parsePeriod, periodName } from '@app/billing';
import { type FontStyle, type Run, advance, runs } from './invoice-fonts.js';

/**
 * Invoice PDF rendering (pdfkit, A4).
 *
 * Pure: takes an invoice document, returns the PDF bytes; no file, network or database access.
 * Amount strings are printed exactly as given (never parsed, re-rounded or regrouped); only
 * token counts get thousands separators. Text is set in embedded Noto Sans with Noto Sans KR
 * behind it (invoice-fonts.ts), subset to the glyphs used, so names in Latin, Greek, Cyrillic,
 * Hangul or CJK scripts print as written.
 */

export interface InvoiceLineDocument {
  model: string; // 'qwen3-5-4b'
  token_class: 'input' | 'cached_input' | 'output';
  rate_card_version: number;
  unit_price_per_million: string; // decimal string, e.g. '0.04'
  tokens: number; // may be large (up to ~1e12) — format with thousands separators
  amount: string; // exact decimal string, up to 18 decimals, e.g. '0.00004096'
  late: boolean; // usage from an earlier, already finalized month
  usage_period: string; // 'YYYY-MM' the usage belongs to (differs from the invoice period when late)
}

export interface InvoiceDocument {
  invoice_id: string;
  number: string; // 'INV-2026-11-000123'
  account_id: string;
  account_name: string;
  period: string; // '2026-11'
  period_start: string; // ISO instants (UTC month bounds, end exclusive)
  period_end: string;
  status: 'draft' | 'finalized' | 'void';
  currency: 'USD';
  issued_at: string | null; // finalized_at ISO or null for drafts
  opening_balance: string;
  credits_total: string;
  expired_total?: string;
  voided_total?: string;
  usage_total: string;
  usage_total_rounded: string;
  closing_balance: string;
  lines: InvoiceLineDocument[];
}

/** Who issues the invoice: from configuration (INVOICE_SELLER_*); null prints no seller block. */
export interface Seller {
  name: string;
  address: readonly string[];
  taxId?: string;
  email?: string;
}

// ---------------------------------------------------------------------------------------------
// Layout

type Doc = PDFKit.PDFDocument;
type Align = 'left' | 'right' | 'center';

/**
 * Where the baseline sits below the top of a line, per point of font size. The layout was drawn
 * for Helvetica's line box (ascender 718/1000); text is put on the baseline that box implies, so
 * every embedded face, whatever its own ascender, lands where the layout expects it.
 */
const BASELINE = 0.718;

const COLOR = {
  ink: '#111827',
  text: '#374151',
  muted: '#6b7280',
  faint: '#9ca3af',
  rule: '#d1d5db',
  hairline: '#e5e7eb',
  headerFill: '#f3f4f6',
  groupFill: '#f9fafb',
  accent: '#1e3a5f',
} as const;

const BANNER = {
  draft: {
    word: 'DRAFT',
    text: 'This invoice is a draft: lines and amounts may still change until it is finalized.',
    ink: '#92400e',
    fill: '#fef3c7',
    stroke: '#f59e0b',
    watermark: '#6b7280',
  },
  void: {
    word: 'VOID',
    text: 'This invoice has been voided and is no longer valid.',
    ink: '#991b1b',
    fill: '#fee2e2',
    stroke: '#ef4444',
    watermark: '#dc2626',
  },
} as const;

const PAGE_MARGIN = 48;
const FOOTER_GAP = 30; // distance from the page bottom to the footer text
const CONTENT_BOTTOM_GAP = 62; // content never goes below page height minus this

const CELL_PAD = 6;
const BODY_SIZE = 8.5;
const HEADER_SIZE = 7.5;
const LINE_GAP = 2.5; // extra leading between wrapped lines
const ROW_PAD = 4.5; // space above and below the text of a table row
const MIN_NUMBER_SIZE = 6.5; // numbers shrink to fit their column down to this size, then wrap

interface Column {
  title: string;
  width: number;
  align: Align;
}

// A4 is 595.28pt wide; the content width is 595.28 - 2 * 48 = 499.28pt.
const COLUMNS: Column[] = [
  { title: 'Model', width: 104, align: 'left' },
  { title: 'Class', width: 66, align: 'left' },
  { title: 'Rate card', width: 48, align: 'right' },
  { title: 'Unit price / 1M', width: 80, align: 'right' },
  { title: 'Tokens', width: 84, align: 'right' },
  { title: 'Amount (USD)', width: 0, align: 'right' }, // takes the remaining width
];

const TOKEN_CLASS_LABEL: Record<InvoiceLineDocument['token_class'], string> = {
  input: 'Input',
  cached_input: 'Cached input',
  output: 'Output',
};

// ---------------------------------------------------------------------------------------------
// Formatting helpers (exported for tests and for callers that want the same wording)

/** 'November 2026' for '2026-11'; anything that is not YYYY-MM comes back unchanged. */
export function monthName(period: string): string {
  const parsed = parsePeriod(period);
  return parsed ? periodName(parsed) : period;
}

/** '2026-11-01 00:00 UTC' (seconds only when not zero); unparseable input comes back unchanged. */
export function formatInstant(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  const seconds = date.getUTCSeconds() || date.getUTCMilliseconds() ? `:${p(date.getUTCSeconds())}` : '';
  return (
    `${date.getUTCFullYear()}-${p(date.getUTCMonth() + 1)}-${p(date.getUTCDate())} ` +
    `${p(date.getUTCHours())}:${p(date.getUTCMinutes())}${seconds} UTC`
  );
}

/** 1234567 -> '1,234,567'. Integers of any size print without exponent notation. */
export function formatTokens(tokens: number): string {
  if (!Number.isFinite(tokens)) return String(tokens);
  const text = Number.isInteger(tokens) ? BigInt(tokens).toString() : String(tokens);
  const [whole, fraction] = text.split('.');
  const grouped = whole!.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

// ---------------------------------------------------------------------------------------------
// Rendering

interface Group {
  heading: string | null;
  lines: InvoiceLineDocument[];
}

/** Regular lines first (in the given order), then late lines by usage month, oldest first. */
function groupLines(invoice: InvoiceDocument): Group[] {
  const regular = invoice.lines.filter((l) => !l.late);
  const late = new Map<string, InvoiceLineDocument[]>();
  for (const line of invoice.lines) {
    if (!line.late) continue;
    const list = late.get(line.usage_period) ?? [];
    list.push(line);
    late.set(line.usage_period, list);
  }
  const groups: Group[] = [];
  if (regular.length > 0) {
    groups.push({ heading: late.size > 0 ? `Usage for ${monthName(invoice.period)}` : null, lines: regular });
  }
  for (const period of [...late.keys()].sort()) {
    groups.push({
      heading: `Late usage from ${monthName(period)} (billed after that invoice was finalized)`,
      lines: late.get(period)!,
    });
  }
  return groups;
}

class InvoiceRenderer {
  private readonly doc: Doc;
  private readonly left = PAGE_MARGIN;
  private readonly right: number;
  private readonly width: number;
  private readonly bottom: number;
  private readonly columnX: number[];
  private readonly columnWidth: number[];
  private y = PAGE_MARGIN;
  /** The style text is measured and drawn in (see style()). */
  private face: FontStyle = 'regular';
  private size = BODY_SIZE;
  private readonly registered = new Set<string>();

  constructor(
    private readonly invoice: InvoiceDocument,
    private readonly seller: Seller | null,
  ) {
    this.doc = new PDFDocument({
      size: 'A4',
      margins: { top: PAGE_MARGIN, bottom: PAGE_MARGIN, left: PAGE_MARGIN, right: PAGE_MARGIN },
      autoFirstPage: false,
      bufferPages: true,
      compress: true,
      lang: 'en-US',
      displayTitle: true,
      info: {
        Title: `Invoice ${invoice.number}`,
        ...(seller ? { Author: seller.name, Creator: seller.name } : {}),
        Subject: `Invoice ${invoice.number} for ${invoice.account_name} (${invoice.account_id}), ${monthName(invoice.period)}`,
        Keywords: `invoice ${invoice.number} ${invoice.period} ${invoice.account_id}`,
      },
    });
    const pageWidth = 595.28;
    this.right = pageWidth - PAGE_MARGIN;
    this.width = this.right - this.left;
    this.bottom = 841.89 - CONTENT_BOTTOM_GAP;
    const fixed = COLUMNS.reduce((sum, c) => sum + c.width, 0);
    this.columnWidth = COLUMNS.map((c) => c.width || this.width - fixed);
    this.columnX = this.columnWidth.map((_, i) => this.left + this.columnWidth.slice(0, i).reduce((a, b) => a + b, 0));
  }

  render(): Promise<Buffer> {
    const chunks: Uint8Array[] = [];
    const done = new Promise<Buffer>((resolve, reject) => {
      this.doc.on('data', (chunk: Uint8Array) => chunks.push(chunk));
      this.doc.on('end', () => resolve(Buffer.concat(chunks)));
      this.doc.on('error', reject);
    });
    try {
      this.doc.on('pageAdded', () => this.decoratePage());
      this.doc.addPage();
      this.header();
      this.table();
      this.totals();
      this.footers();
      this.doc.end();
    } catch (error) {
      return Promise.reject(error);
    }
    return done;
  }

  // --- primitives ----------------------------------------------------------------------------

  /** One line of text at (x, y) aligned within `width`; never wraps, never breaks the page. */
  private put(text: string, x: number, y: number, width: number, align: Align = 'left'): void {
    const w = this.measure(text);
    const dx = align === 'right' ? width - w : align === 'center' ? (width - w) / 2 : 0;
    this.draw(text, x + dx, y);
  }

  private style(face: FontStyle, size: number, color: string): this {
    this.face = face;
    this.size = size;
    this.doc.fontSize(size).fillColor(color);
    return this;
  }

  /** The document, set in the face of `run` at the current size (registered on first use). */
  private use(run: Run): Doc {
    if (!this.registered.has(run.face.name)) {
      // pdfkit takes a parsed fontkit font as well as bytes (its types say only bytes): parsed once per process.
      this.doc.registerFont(run.face.name, run.face.pdf as unknown as Buffer);
      this.registered.add(run.face.name);
    }
    return this.doc.font(run.face.name).fontSize(this.size);
  }

  /** The width of one line of `text` in the current style, each run in the face that prints it. */
  private measure(text: string, characterSpacing = 0): number {
    const parts = runs(text, this.face);
    const units = parts.reduce((sum, run) => sum + advance(run.face, run.text), 0);
    return (units * this.size) / 1000 + characterSpacing * Math.max(0, [...text].length - 1);
  }

  /** Draws one line whose layout box has its top at y, run by run, all on the baseline that box implies. */
  private draw(text: string, x: number, y: number, characterSpacing = 0): void {
    const baseline = y + BASELINE * this.size;
    let cx = x;
    for (const run of runs(text, this.face)) {
      this.use(run).text(run.text, cx, baseline, { lineBreak: false, baseline: 'alphabetic', characterSpacing });
      cx += (advance(run.face, run.text) * this.size) / 1000 + characterSpacing * [...run.text].length;
    }
  }

  /** Word-wraps `text` to `width` in the current font; overlong words are split by character. */
  private wrap(text: string, width: number, maxLines = Infinity): string[] {
    const lines: string[] = [];
    let current = '';
    const fits = (s: string) => this.measure(s) <= width;
    for (const word of text.split(/\s+/).filter(Boolean)) {
      const candidate = current ? `${current} ${word}` : word;
      if (fits(candidate)) {
        current = candidate;
        continue;
      }
      if (current) lines.push(current);
      current = '';
      let rest = word;
      while (!fits(rest)) {
        let n = rest.length - 1;
        while (n > 1 && !fits(rest.slice(0, n))) n--;
        // Prefer breaking after a separator ('qwen3-coder-' / 'instruct') over mid-token.
        const separator = Math.max(...['-', '_', '/', '.', ':'].map((c) => rest.lastIndexOf(c, n - 1)));
        if (separator >= n / 3) n = separator + 1;
        lines.push(rest.slice(0, n));
        rest = rest.slice(n);
      }
      current = rest;
    }
    if (current || lines.length === 0) lines.push(current);
    if (lines.length > maxLines) {
      const kept = lines.slice(0, maxLines);
      let last = kept[maxLines - 1]!;
      while (last.length > 0 && !fits(`${last}…`)) last = last.slice(0, -1);
      kept[maxLines - 1] = `${last.trimEnd()}…`;
      return kept;
    }
    return lines;
  }

  /** The largest font size <= `size` (down to `min`) at which `text` fits on one line in `width`. */
  private fitSize(text: string, face: FontStyle, size: number, width: number, min = 6): number {
    this.face = face;
    this.size = size;
    const w = this.measure(text);
    return w <= width ? size : Math.max(min, Math.floor(((size * width) / w) * 4) / 4);
  }

  private lineHeight(size: number): number {
    return size * 1.15 + LINE_GAP;
  }

  private rule(y: number, color: string = COLOR.rule, weight = 0.75, x1 = this.left, x2 = this.right): void {
    this.doc.save().moveTo(x1, y).lineTo(x2, y).lineWidth(weight).strokeColor(color).stroke().restore();
  }

  private newPage(): void {
    this.doc.addPage();
    this.continuationHeader();
  }

  // --- page decorations ----------------------------------------------------------------------

  /** Drawn first on every page, so it sits underneath the content. */
  private decoratePage(): void {
    if (this.invoice.status === 'finalized') return;
    const banner = BANNER[this.invoice.status];
    const { width, height } = this.doc.page;
    const size = 130;
    this.doc.save();
    this.doc.rotate(-Math.atan2(height, width) * (180 / Math.PI), { origin: [width / 2, height / 2] });
    this.style('bold', size, banner.watermark);
    this.doc.fillOpacity(0.09);
    const w = this.measure(banner.word);
    this.draw(banner.word, width / 2 - w / 2, height / 2 - size * 0.36);
    this.doc.restore();
  }

  private continuationHeader(): void {
    const y = PAGE_MARGIN;
    this.style('bold', 8.5, COLOR.ink).put(`Invoice ${this.invoice.number}`, this.left, y, this.width / 2);
    this.style('regular', 8.5, COLOR.muted);
    const name = this.wrap(this.invoice.account_name, this.width / 2 - 10, 1)[0]!;
    this.put(name, this.left + this.width / 2, y, this.width / 2, 'right');
    this.rule(y + 15, COLOR.hairline);
    this.y = y + 28;
  }

  private footers(): void {
    const range = this.doc.bufferedPageRange();
    const total = range.count;
    for (let i = range.start; i < range.start + total; i++) {
      this.doc.switchToPage(i);
      const y = this.doc.page.height - FOOTER_GAP;
      this.rule(y - 8, COLOR.hairline);
      this.style('regular', 7.5, COLOR.muted);
      const left = this.seller ? `${this.seller.name}  ·  Invoice ${this.invoice.number}` : `Invoice ${this.invoice.number}`;
      this.put(left, this.left, y, this.width * 0.7);
      this.put(`Page ${i - range.start + 1} of ${total}`, this.left, y, this.width, 'right');
    }
  }

  // --- first page header ---------------------------------------------------------------------

  private header(): void {
    const inv = this.invoice;
    const seller = this.seller;
    const top = PAGE_MARGIN;
    const half = this.width / 2;

    // Seller, top left (nothing when none is configured).
    let ly = top;
    if (seller) {
      this.style('bold', 14, COLOR.accent);
      for (const line of this.wrap(seller.name, half - 20, 2)) {
        this.put(line, this.left, ly, half - 20);
        ly += 17;
      }
      ly += 2;
      this.style('regular', 8.5, COLOR.text);
      const details = [...seller.address, ...(seller.taxId ? [`Tax ID ${seller.taxId}`] : []), ...(seller.email ? [seller.email] : [])];
      for (const line of details) {
        for (const part of this.wrap(line, half - 20, 2)) {
          this.put(part, this.left, ly, half - 20);
          ly += this.lineHeight(8.5);
        }
      }
    }

    // Title, top right.
    let ry = top - 3;
    const rx = this.left + half;
    this.style('bold', 26, COLOR.ink).put('Invoice', rx, ry, half, 'right');
    ry += 32;
    const numberSize = this.fitSize(inv.number, 'regular', 11, half);
    this.style('regular', numberSize, COLOR.text).put(inv.number, rx, ry, half, 'right');
    ry += 16;
    if (inv.status === 'finalized') {
      this.style('regular', 8.5, COLOR.muted);
      this.put(inv.issued_at ? `Issued ${formatInstant(inv.issued_at)}` : 'Finalized', rx, ry, half, 'right');
      ry += 14;
    } else {
      // Status badge.
      const banner = BANNER[inv.status];
      this.style('bold', 9, banner.ink);
      const w = this.measure(banner.word) + 16;
      this.doc.save().roundedRect(this.right - w, ry - 1, w, 16, 3).fillAndStroke(banner.fill, banner.stroke).restore();
      this.style('bold', 9, banner.ink).put(banner.word, this.right - w, ry + 3.5, w, 'center');
      ry += 22;
    }

    let y = Math.max(ly, ry) + 14;

    // Draft / void banner across the page.
    if (inv.status !== 'finalized') {
      const banner = BANNER[inv.status];
      this.doc.save().rect(this.left, y, this.width, 24).fill(banner.fill).restore();
      this.doc.save().rect(this.left, y, 3, 24).fill(banner.stroke).restore();
      this.style('bold', 9, banner.ink).put(banner.word, this.left + 12, y + 8, 60);
      const wordWidth = this.measure(banner.word);
      this.style('regular', 8.5, banner.ink).put(banner.text, this.left + 12 + wordWidth + 10, y + 8.3, this.width - 40);
      y += 24 + 16;
    } else {
      this.rule(y, COLOR.rule);
      y += 16;
    }

    // Bill to (left) and invoice details (right).
    const blockTop = y;
    const billWidth = half - 24;
    this.style('bold', 7, COLOR.muted);
    this.draw('BILL TO', this.left, y, 0.8);
    y += 13;
    this.style('bold', 11, COLOR.ink);
    for (const line of this.wrap(inv.account_name, billWidth, 6)) {
      this.put(line, this.left, y, billWidth);
      y += this.lineHeight(11);
    }
    y += 3;
    this.style('regular', 8, COLOR.muted).put('Account ID', this.left, y, billWidth);
    y += this.lineHeight(8);
    this.style('regular', 8.5, COLOR.text);
    for (const line of this.wrap(inv.account_id, billWidth, 2)) {
      this.put(line, this.left, y, billWidth);
      y += this.lineHeight(8.5);
    }
    const leftBottom = y;

    const details: [string, string][] = [
      ['Invoice number', inv.number],
      ['Billing period', `${monthName(inv.period)}, UTC`],
      ['Period start', formatInstant(inv.period_start)],
      ['Period end', `${formatInstant(inv.period_end)} (exclusive)`],
      ['Status', inv.status === 'finalized' ? 'Finalized' : inv.status === 'draft' ? 'Draft (not final)' : 'Void'],
    ];
    if (inv.issued_at) details.push(['Issued', formatInstant(inv.issued_at)]);
    details.push(['Currency', `${inv.currency} (all amounts)`]);

    const dx = this.left + half - 6;
    const labelWidth = 82;
    const valueX = dx + labelWidth;
    const valueWidth = this.right - valueX;
    let dy = blockTop;
    this.style('bold', 7, COLOR.muted);
    this.draw('INVOICE DETAILS', dx, dy, 0.8);
    dy += 13;
    for (const [label, value] of details) {
      this.style('regular', 8.5, COLOR.muted).put(label, dx, dy, labelWidth);
      this.style(label === 'Billing period' ? 'bold' : 'regular', 8.5, COLOR.ink);
      const lines = this.wrap(value, valueWidth, 2);
      for (const line of lines) {
        this.put(line, valueX, dy, valueWidth);
        dy += this.lineHeight(8.5);
      }
      dy += 1.5;
    }

    this.y = Math.max(leftBottom, dy) + 22;
  }

  // --- line table ----------------------------------------------------------------------------

  private tableHeader(): void {
    const h = 20;
    this.doc.save().rect(this.left, this.y, this.width, h).fill(COLOR.headerFill).restore();
    this.rule(this.y + h, COLOR.rule, 0.75);
    this.style('bold', HEADER_SIZE, COLOR.text);
    COLUMNS.forEach((c, i) => {
      this.put(c.title, this.columnX[i]! + CELL_PAD, this.y + 7, this.columnWidth[i]! - 2 * CELL_PAD, c.align);
    });
    this.y += h;
  }

  private ensureRoom(height: number, continuation?: string | null): void {
    if (this.y + height <= this.bottom) return;
    this.newPage();
    this.tableHeader();
    if (continuation) this.groupHeading(`${continuation} (continued)`);
  }

  private groupHeading(text: string): void {
    const h = 22;
    this.doc.save().rect(this.left, this.y, this.width, h).fill(COLOR.groupFill).restore();
    this.rule(this.y + h, COLOR.hairline, 0.5);
    this.style('bold', BODY_SIZE, COLOR.accent);
    const line = this.wrap(text, this.width - 2 * CELL_PAD, 1)[0]!;
    this.put(line, this.left + CELL_PAD, this.y + 8, this.width - 2 * CELL_PAD);
    this.y += h;
  }

  private row(line: InvoiceLineDocument, heading: string | null): void {
    const inner = (i: number) => this.columnWidth[i]! - 2 * CELL_PAD;
    const cells = [
      line.model,
      TOKEN_CLASS_LABEL[line.token_class] ?? String(line.token_class),
      `v${line.rate_card_version}`,
      line.unit_price_per_million,
      formatTokens(line.tokens),
      line.amount,
    ];
    // Text wraps (the model name) or shrinks to fit (numbers, which must stay on one line).
    this.style('regular', BODY_SIZE, COLOR.ink);
    const modelLines = this.wrap(cells[0]!, inner(0), 3);
    const classLines = this.wrap(cells[1]!, inner(1), 2);
    const sizes = cells.map((c, i) => (i < 2 ? BODY_SIZE : this.fitSize(c, 'regular', BODY_SIZE, inner(i), MIN_NUMBER_SIZE)));
    // Numbers too long even at the smallest size are split over lines (never altered).
    const numberLines = cells.map((c, i) => {
      if (i < 2) return [];
      this.style('regular', sizes[i]!, COLOR.text);
      return this.wrap(c, inner(i));
    });
    const lh = this.lineHeight(BODY_SIZE);
    const h = Math.max(
      Math.max(modelLines.length, classLines.length) * lh - LINE_GAP,
      ...numberLines.map((lines, i) => (lines.length > 1 ? lines.length * this.lineHeight(sizes[i]!) - LINE_GAP : 0)),
    ) + ROW_PAD * 2;

    this.ensureRoom(h, heading);
    const top = this.y + ROW_PAD + 0.5;
    this.style('regular', BODY_SIZE, COLOR.ink);
    modelLines.forEach((l, k) => this.put(l, this.columnX[0]! + CELL_PAD, top + k * lh, inner(0)));
    this.style('regular', BODY_SIZE, COLOR.text);
    classLines.forEach((l, k) => this.put(l, this.columnX[1]! + CELL_PAD, top + k * lh, inner(1)));
    for (let i = 2; i < cells.length; i++) {
      const size = sizes[i]!;
      this.style('regular', size, i === 5 ? COLOR.ink : COLOR.text);
      // Keep the baseline of shrunk numbers level with the rest of the row.
      const dy = (BODY_SIZE - size) * 0.8;
      numberLines[i]!.forEach((l, k) =>
        this.put(l, this.columnX[i]! + CELL_PAD, top + dy + k * this.lineHeight(size), inner(i), 'right'),
      );
    }
    this.y += h;
    this.rule(this.y, COLOR.hairline, 0.5);
  }

  private table(): void {
    this.ensureRoomForTableStart();
    this.tableHeader();
    const groups = groupLines(this.invoice);
    if (groups.length === 0) {
      this.style('italic', 9, COLOR.muted).put('No usage this period', this.left, this.y + 14, this.width, 'center');
      this.y += 38;
      this.rule(this.y, COLOR.hairline, 0.5);
      return;
    }
    for (const group of groups) {
      if (group.heading) {
        // Never leave a heading alone at the bottom of a page.
        if (this.y + 22 + 20 > this.bottom) this.ensureRoom(Infinity);
        this.groupHeading(group.heading);
      }
      for (const line of group.lines) this.row(line, group.heading);
    }
  }

  private ensureRoomForTableStart(): void {
    if (this.y + 20 + 40 > this.bottom) this.newPage();
  }

  // --- totals --------------------------------------------------------------------------------

  private totals(): void {
    const inv = this.invoice;
    const rowH = 17;
    const height = 2 * rowH + 14 + 4 * rowH + 14 + 40;
    this.y += 18;
    if (this.y + height > this.bottom) {
      this.newPage();
      this.y += 6;
    }

    const boxWidth = 262;
    const x = this.right - boxWidth;
    const labelWidth = 128;
    const valueX = x + labelWidth;
    const valueWidth = boxWidth - labelWidth - CELL_PAD;
    let y = this.y;

    const amountRow = (label: string, text: string, bold = false, size = 9) => {
      const face = bold ? 'bold' : 'regular';
      const fitted = this.fitSize(text, face, size, valueWidth, 5.5);
      this.style(face, size, bold ? COLOR.ink : COLOR.text).put(label, x + CELL_PAD, y, labelWidth - CELL_PAD);
      this.style(face, fitted, COLOR.ink).put(text, valueX, y + (size - fitted) * 0.8, valueWidth, 'right');
      y += rowH;
    };
    const heading = (text: string) => {
      this.style('bold', 7, COLOR.muted);
      this.draw(text, x + CELL_PAD, y, 0.8);
      y += 13;
    };

    heading('USAGE');
    amountRow('Usage (exact)', inv.usage_total);
    amountRow('Usage (rounded to cents)', inv.usage_total_rounded);
    y += 6;
    this.rule(y - 4, COLOR.rule, 0.5, x, this.right);
    y += 4;
    heading('BALANCE (USD)');
    amountRow('Opening balance', inv.opening_balance);
    amountRow('+ Credits', inv.credits_total);
    amountRow('\u2013 Usage', inv.usage_total);
    // Shown when something expired or was voided in the month (never on invoices from before grants).
    if (inv.expired_total && inv.expired_total !== '0') amountRow('\u2013 Credits expired', inv.expired_total);
    if (inv.voided_total && inv.voided_total !== '0') amountRow('\u2013 Credits voided', inv.voided_total);
    this.rule(y - 3, COLOR.ink, 0.75, x, this.right);
    y += 4;
    this.doc.save().rect(x, y - 6, boxWidth, rowH + 5).fill(COLOR.headerFill).restore();
    amountRow('= Closing balance', inv.closing_balance, true, 10);

    // Notes, left of the totals.
    const notesWidth = x - this.left - 28;
    let ny = this.y;
    this.style('bold', 7, COLOR.muted);
    this.draw('NOTES', this.left, ny, 0.8);
    ny += 13;
    const notes = [
      'Unit prices are in USD per 1,000,000 tokens of the rate card version shown on each line.',
      'Line amounts and the usage total are exact; the usage total rounded to cents is shown for reference.',
      'Closing balance = opening balance + credits \u2013 usage \u2013 credits expired or voided (exact).',
    ];
    if (inv.lines.some((l) => l.late)) {
      notes.push('Late usage belongs to an earlier month whose invoice was already finalized when it was recorded.');
    }
    this.style('regular', 7.5, COLOR.muted);
    for (const note of notes) {
      for (const line of this.wrap(note, notesWidth)) {
        this.put(line, this.left, ny, notesWidth);
        ny += this.lineHeight(7.5) - 0.5;
      }
      ny += 3;
    }
    this.y = Math.max(y, ny);
  }
}

/** Renders an invoice as an A4 PDF. Pure: no I/O besides reading the font files once; resolves with the complete file. */
export function renderInvoicePdf(invoice: InvoiceDocument, seller: Seller | null): Promise<Buffer> {
  try {
    return new InvoiceRenderer(invoice, seller).render();
  } catch (error) {
    return Promise.reject(error);
  }
}
