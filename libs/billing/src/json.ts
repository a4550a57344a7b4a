/** A JSON object as JSON.parse makes it: not null, not an array, plain prototype. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** An own property of a JSON object (never one inherited from Object.prototype). */
export function ownField(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

// U+0000 and unpaired surrogates: Postgres text and jsonb refuse the first, and the
// second cannot be encoded as UTF-8 (it would be silently replaced by U+FFFD).
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when the string can be stored in Postgres text/jsonb unchanged. */
export function isStorableString(s: string): boolean {
  return !UNSTORABLE.test(s);
}

export const MAX_JSON_DEPTH = 32;

/**
 * One walk for the values the hot path checks and stores: the reason `value` is not plain,
 * storable JSON (null, booleans, finite numbers, storable strings, arrays, plain objects, nested
 * at most MAX_JSON_DEPTH deep), or its canonical JSON text (canonicalJson's, whose UTF-8 size is
 * that of any JSON.stringify of it: the same tokens, keys reordered).
 */
export function inspectJson(value: unknown): { problem: string; text?: never } | { text: string; problem?: never } {
  const walked = canonicalText(value, 0);
  return typeof walked === 'string' ? { text: walked } : walked;
}

/**
 * inspectJson's walk: each value's text, or why it is not JSON. The hot path walks every event's
 * usage with it, so a value that passes costs its text and nothing else (no object per value).
 */
function canonicalText(value: unknown, depth: number): string | { problem: string } {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : { problem: 'contains a non-finite number' };
  if (typeof value === 'string') return isStorableString(value) ? JSON.stringify(value) : { problem: 'contains a NUL character or an unpaired surrogate' };
  if (depth >= MAX_JSON_DEPTH) return { problem: `is nested more than ${MAX_JSON_DEPTH} levels deep` };
  if (Array.isArray(value)) {
    let text = '[';
    for (let i = 0; i < value.length; i++) {
      const item = canonicalText(value[i], depth + 1);
      if (typeof item !== 'string') return item;
      text += i ? `,${item}` : item;
    }
    return `${text}]`;
  }
  if (isPlainObject(value)) {
    let text = '{';
    const keys = Object.keys(value).sort();
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i];
      if (!isStorableString(key)) return { problem: 'contains a key with a NUL character or an unpaired surrogate' };
      const item = canonicalText(value[key], depth + 1);
      if (typeof item !== 'string') return item;
      text += `${i ? ',' : ''}${JSON.stringify(key)}:${item}`;
    }
    return `${text}}`;
  }
  return { problem: `contains a value that is not JSON (${typeof value})` };
}

/**
 * JSON.stringify with object keys sorted recursively (by UTF-16 code units), no
 * whitespace: equal JSON values give equal strings whatever their key order.
 */
export function canonicalJson(value: unknown): string {
  return canonical(value) ?? 'null';
}

function canonical(value: unknown): string | undefined {
  let v = value;
  if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON === 'function') {
    v = (v as { toJSON: () => unknown }).toJSON();
  }
  if (Array.isArray(v)) return `[${v.map((item) => canonical(item) ?? 'null').join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    const obj = v as Record<string, unknown>;
    const parts: string[] = [];
    for (const key of Object.keys(obj).sort()) {
      const item = canonical(obj[key]);
      if (item !== undefined) parts.push(`${JSON.stringify(key)}:${item}`);
    }
    return `{${parts.join(',')}}`;
  }
  return JSON.stringify(v) as string | undefined;
}
