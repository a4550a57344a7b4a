/**
 * Money in the browser, as decimal strings from the API ("24.99999993", "-0.00000007"), never
 * through a JS number: formatting is string work and sums are BigInt over a common scale.
 * chartGeometry() is the one place a decimal becomes a float, and only to place a point.
 */

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

interface Parts {
  negative: boolean;
  integer: string;
  fraction: string;
}

function parts(value: string): Parts {
  const match = DECIMAL.exec(value);
  if (!match) throw new RangeError(`not a decimal string: ${JSON.stringify(value)}`);
  const integer = match[2].replace(/^0+(?=\d)/, '');
  const fraction = (match[3] ?? '').replace(/0+$/, '');
  const zero = /^0$/.test(integer) && fraction === '';
  return { negative: !!match[1] && !zero, integer, fraction };
}

/** Thousands separators by string slicing: "1234567" -> "1,234,567". */
function group(integer: string): string {
  return integer.replace(/\B(?=(\d{3})+$)/g, ',');
}

/** Canonical decimal text: no leading or trailing zeros, no "-0". */
export function normalize(value: string): string {
  const p = parts(value);
  return `${p.negative ? '-' : ''}${p.integer}${p.fraction ? `.${p.fraction}` : ''}`;
}

/** The exact sum of decimal strings, as a canonical decimal string. */
export function sumDecimals(values: readonly string[]): string {
  const all = values.map(parts);
  const scale = Math.max(0, ...all.map((p) => p.fraction.length));
  let total = 0n;
  for (const p of all) {
    const units = BigInt(p.integer + p.fraction.padEnd(scale, '0'));
    total += p.negative ? -units : units;
  }
  const negative = total < 0n;
  const digits = (negative ? -total : total).toString().padStart(scale + 1, '0');
  const integer = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale);
  return normalize(`${negative ? '-' : ''}${integer}${scale ? `.${fraction}` : ''}`);
}

export const addDecimals = (a: string, b: string): string => sumDecimals([a, b]);

export const isNegative = (value: string): boolean => parts(value).negative;

export interface MoneyOptions {
  /** Write "+" before amounts above zero (ledger amounts). */
  signed?: boolean;
}

/**
 * USD for display, every digit the API sent kept: "1234.5" -> "$1,234.50",
 * "-0.00000007" -> "−$0.00000007" (a true minus sign), at least two decimals.
 */
export function formatMoney(value: string, options: MoneyOptions = {}): string {
  const p = parts(value);
  const zero = /^0$/.test(p.integer) && p.fraction === '';
  const sign = p.negative ? '\u2212' : options.signed && !zero ? '+' : '';
  return `${sign}$${group(p.integer)}.${p.fraction.padEnd(2, '0')}`;
}

/** Token counts are integers (JSON numbers from the API): grouped for display. */
export function formatCount(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a whole count: ${value}`);
  return value < 0 ? `\u2212${group(String(-value))}` : group(String(value));
}

/**
 * A decimal string as a float, for chart geometry only (where a point sits on the axis).
 * Nothing shown to a person or added up may come from this value.
 */
export function chartGeometry(value: string): number {
  return Number(normalize(value));
}
