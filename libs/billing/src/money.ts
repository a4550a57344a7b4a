import { Decimal } from 'decimal.js';

/**
 * The only decimal constructor the project uses for money. 80 significant digits
 * leave room for numeric(38,18) balances and for token counts (up to 2^53) times
 * numeric(24,12) prices without any rounding; the exponent thresholds keep
 * `toString()` free of exponent notation for every value we store.
 */
export const Money = Decimal.clone({
  precision: 80,
  rounding: Decimal.ROUND_HALF_UP,
  toExpNeg: -100,
  toExpPos: 100,
});
export type Money = Decimal;

/** Money columns are numeric(38,18). */
export const LEDGER_SCALE = 18;
/** Per-million prices are numeric(24,12), so a per-token cost always fits LEDGER_SCALE decimals. */
export const PRICE_SCALE = 12;

/** Longest decimal string accepted from a client (sign and point included). */
export const MAX_DECIMAL_STRING_LENGTH = 40;

const PLAIN_DECIMAL = /^-?\d+(\.\d+)?$/;

/**
 * Formats money for JSON: plain decimal notation, no exponent, no trailing zeros,
 * every digit kept ("0.00000007", "25", "24.99999993"). Negative zero prints as "0".
 */
export function formatMoney(d: Decimal): string {
  if (!d.isFinite()) throw new RangeError(`cannot format non-finite money value ${d.toString()}`);
  // toFixed() without arguments never rounds and never uses exponent notation;
  // decimal.js keeps no trailing zeros, so none can appear.
  return d.toFixed();
}

export interface ParseDecimalOptions {
  /** Most fractional digits accepted; more are refused, never rounded. */
  maxScale: number;
  /** Most integer digits accepted (e.g. 20 for numeric(38,18)); unlimited when absent. */
  maxIntegerDigits?: number;
  allowNegative?: boolean;
  allowZero?: boolean;
  /** Name used at the start of error messages ("amount must be ..."). Defaults to "The value". */
  field?: string;
}

export type ParseDecimalResult = { ok: true; value: Money } | { ok: false; message: string };

/**
 * Parses a client-supplied decimal. Only a JSON string in plain notation is accepted
 * (`^-?\d+(\.\d+)?$`, at most 40 characters): no numbers (they have already lost
 * precision), no exponent, spaces, leading '+', or bare '.5'/'5.'.
 */
export function parseDecimal(input: unknown, opts: ParseDecimalOptions): ParseDecimalResult {
  const subject = opts.field ?? 'The value';
  const fail = (rest: string): ParseDecimalResult => ({ ok: false, message: `${subject} ${rest}` });

  if (typeof input !== 'string') {
    return fail('must be a decimal number written as a string, such as "25.00".');
  }
  if (input.length > MAX_DECIMAL_STRING_LENGTH) {
    return fail(`must be at most ${MAX_DECIMAL_STRING_LENGTH} characters long.`);
  }
  if (!PLAIN_DECIMAL.test(input)) {
    return fail(
      'must be a plain decimal string such as "25.00" (digits with an optional leading "-" and decimal point; no exponent, spaces or "+").',
    );
  }
  const unsigned = input.startsWith('-') ? input.slice(1) : input;
  const [integerPart, fraction = ''] = unsigned.split('.');
  if (fraction.length > opts.maxScale) {
    return fail(
      opts.maxScale === 0
        ? 'must be a whole number.'
        : `must have at most ${opts.maxScale} digits after the decimal point.`,
    );
  }
  const significantIntegerDigits = integerPart.replace(/^0+/, '').length;
  if (opts.maxIntegerDigits !== undefined && significantIntegerDigits > opts.maxIntegerDigits) {
    return fail(`must have at most ${opts.maxIntegerDigits} digits before the decimal point.`);
  }
  const parsed = new Money(input);
  const value = parsed.isZero() ? new Money(0) : parsed; // drop the sign of "-0"
  if (value.isZero() && !opts.allowZero) {
    return fail(opts.allowNegative ? 'must not be zero.' : 'must be greater than zero.');
  }
  if (value.isNegative() && !opts.allowNegative) {
    return fail(opts.allowZero ? 'must not be negative.' : 'must be greater than zero.');
  }
  return { ok: true, value };
}

/**
 * Rounds to cents, half away from zero (0.005 -> 0.01, -0.005 -> -0.01).
 * The only place rounding happens: invoice totals for presentation.
 */
export function roundHalfUpToCents(d: Decimal): Money {
  return new Money(d).toDecimalPlaces(2, Decimal.ROUND_HALF_UP);
}
