import { isPlainObject, ownField } from './json.js';

export const ENDPOINTS = ['/v1/chat/completions', '/v1/responses', '/v1/messages', '/v1/completions'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

export function isEndpoint(value: unknown): value is Endpoint {
  return typeof value === 'string' && (ENDPOINTS as readonly string[]).includes(value);
}

/** Token counts per billable class. `input` is UNCACHED input only. */
export interface BillableTokens {
  input: number;
  cachedInput: number;
  output: number;
}

/** The rejection reasons normalisation can give (a subset of RejectionReason). */
export type UsageRejectionReason = 'invalid_usage_shape' | 'invalid_token_count' | 'cached_exceeds_input' | 'inconsistent_usage';

export type NormalizedUsage =
  | {
      ok: true;
      tokens: BillableTokens;
      /** False when the endpoint did not report a cached count (missing or null). */
      cacheReported: boolean;
      /** All prompt tokens the request consumed (for the context-window check). */
      totalInput: number;
    }
  | { ok: false; reason: UsageRejectionReason; detail: string };

type Failure = Extract<NormalizedUsage, { ok: false }>;
type Obj = Record<string, unknown>;

const fail = (reason: UsageRejectionReason, detail: string): Failure => ({ ok: false, reason, detail });
const describe = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/**
 * Reads fields of a usage object and remembers the first problem, so the normalisers
 * below read as straight-line code and check `failure()` once at the end.
 */
function usageReader(endpoint: Endpoint, shape: string) {
  let first: Failure | undefined;
  const refuse = (f: Failure): void => {
    first ??= f;
  };
  /** A count that may be missing or null (=> null). */
  const optional = (obj: Obj | null, key: string, path: string): number | null => {
    const v = obj ? ownField(obj, key) : undefined;
    if (v === undefined || v === null) return null;
    if (!isCount(v)) {
      refuse(fail('invalid_token_count', `${path} must be a non-negative integer, got ${describe(v)}.`));
      return null;
    }
    return v + 0; // turns -0 into 0
  };
  const required = (obj: Obj, key: string, path: string): number => {
    const v = ownField(obj, key);
    if (v === undefined || v === null) {
      refuse(fail('invalid_usage_shape', `${path} is missing: ${endpoint} usage carries ${shape}.`));
      return 0;
    }
    return optional(obj, key, path) ?? 0;
  };
  /** A nested details object that may be missing or null (=> null). */
  const object = (obj: Obj, key: string, path: string): Obj | null => {
    const v = ownField(obj, key);
    if (v === undefined || v === null) return null;
    if (!isPlainObject(v)) {
      refuse(fail('invalid_usage_shape', `${path} must be an object or null, got ${describe(v)}.`));
      return null;
    }
    return v;
  };
  return { optional, required, object, failure: (): Failure | undefined => first };
}

/** prompt/input tokens with an optional cached count inside a details object (OpenAI-style). */
function openAiStyle(
  usage: Obj,
  endpoint: Endpoint,
  names: { input: string; output: string; inputDetails: string; outputDetails: string },
): NormalizedUsage {
  const read = usageReader(endpoint, `${names.input} and ${names.output}`);
  const totalInput = read.required(usage, names.input, `usage.${names.input}`);
  const output = read.required(usage, names.output, `usage.${names.output}`);
  const inputDetails = read.object(usage, names.inputDetails, `usage.${names.inputDetails}`);
  const cached = read.optional(inputDetails, 'cached_tokens', `usage.${names.inputDetails}.cached_tokens`);
  // Never billed: reasoning tokens are already inside the output count (OpenAI-style details,
  // SGLang's top-level field), and the total is derived. They are only checked against it.
  const outputDetails = read.object(usage, names.outputDetails, `usage.${names.outputDetails}`);
  const detailsPath = `usage.${names.outputDetails}.reasoning_tokens`;
  const reasoning = [
    [detailsPath, read.optional(outputDetails, 'reasoning_tokens', detailsPath)],
    ['usage.reasoning_tokens', read.optional(usage, 'reasoning_tokens', 'usage.reasoning_tokens')],
  ] as const;
  const total = read.optional(usage, 'total_tokens', 'usage.total_tokens');

  const failure = read.failure();
  if (failure) return failure;
  if (cached !== null && cached > totalInput) {
    return fail(
      'cached_exceeds_input',
      `usage.${names.inputDetails}.cached_tokens (${cached}) is greater than usage.${names.input} (${totalInput}).`,
    );
  }
  for (const [path, count] of reasoning) {
    if (count !== null && count > output) {
      return fail('inconsistent_usage', `${path} (${count}) is greater than usage.${names.output} (${output}), which includes it.`);
    }
  }
  if (total !== null && total !== totalInput + output) {
    return fail(
      'inconsistent_usage',
      `usage.total_tokens (${total}) is not usage.${names.input} + usage.${names.output} (${totalInput} + ${output}).`,
    );
  }
  const cachedInput = cached ?? 0;
  return {
    ok: true,
    tokens: { input: totalInput - cachedInput, cachedInput, output },
    cacheReported: cached !== null,
    totalInput,
  };
}

/**
 * Anthropic Messages: input_tokens excludes both cache writes and cache reads. This shape reports
 * neither a total nor a separate reasoning count (thinking is inside output_tokens), so it has
 * nothing to contradict itself with; any other field is kept with the event, never read.
 */
function anthropicStyle(usage: Obj, endpoint: Endpoint): NormalizedUsage {
  const read = usageReader(endpoint, 'input_tokens and output_tokens');
  const uncached = read.required(usage, 'input_tokens', 'usage.input_tokens');
  const output = read.required(usage, 'output_tokens', 'usage.output_tokens');
  const creation = read.optional(usage, 'cache_creation_input_tokens', 'usage.cache_creation_input_tokens') ?? 0;
  const cacheRead = read.optional(usage, 'cache_read_input_tokens', 'usage.cache_read_input_tokens');

  const failure = read.failure();
  if (failure) return failure;
  const input = uncached + creation; // cache writes are billed at the input rate
  const totalInput = input + (cacheRead ?? 0);
  if (!Number.isSafeInteger(totalInput)) {
    return fail('invalid_token_count', `usage input counts add up to more than ${Number.MAX_SAFE_INTEGER}.`);
  }
  return {
    ok: true,
    tokens: { input, cachedInput: cacheRead ?? 0, output },
    cacheReported: cacheRead !== null,
    totalInput,
  };
}

/** Maps one endpoint's `usage` object, as the endpoint returned it, to billable token classes. */
export function normalizeUsage(endpoint: Endpoint, usage: unknown): NormalizedUsage {
  if (!isPlainObject(usage)) return fail('invalid_usage_shape', 'usage must be a JSON object.');
  switch (endpoint) {
    case '/v1/chat/completions':
    case '/v1/completions':
      return openAiStyle(usage, endpoint, {
        input: 'prompt_tokens',
        output: 'completion_tokens',
        inputDetails: 'prompt_tokens_details',
        outputDetails: 'completion_tokens_details',
      });
    case '/v1/responses':
      return openAiStyle(usage, endpoint, {
        input: 'input_tokens',
        output: 'output_tokens',
        inputDetails: 'input_tokens_details',
        outputDetails: 'output_tokens_details',
      });
    case '/v1/messages':
      return anthropicStyle(usage, endpoint);
    default:
      return fail('invalid_usage_shape', `unknown endpoint ${describe(endpoint)}.`);
  }
}
