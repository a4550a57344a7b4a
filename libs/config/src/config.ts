import { isIP } from 'node:net';
import { z } from 'zod';
import { hashTag, redisTarget, RedisUrlError } from './redis.js';

const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a ${protocols.map((p) => p.replace(':', '://')).join(' or ')} URL`);

/**
 * One CSP source expression allowed in frame-ancestors: 'self', a scheme (https:), or a host
 * with an optional scheme, wildcard subdomain and port (https://*.example.com:8443). Nothing
 * that could end the directive (; or ,) or the header.
 */
const FRAME_ANCESTOR = /^(?:'self'|[a-z][a-z0-9+.-]*:|(?:[a-z][a-z0-9+.-]*:\/\/)?(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::(?:\d{1,5}|\*))?)$/i;

const frameAncestors = z
  .string()
  .transform((value) => value.trim().split(/\s+/).join(' '))
  .refine(
    (value) => value === "'none'" || value.split(' ').every((source) => FRAME_ANCESTOR.test(source)),
    "must be 'none' or a space-separated list of 'self', schemes (https:) and hosts (https://app.example.com)",
  );

/** Where customers reach the API: an http(s) origin, optionally with a path prefix, no query or fragment. */
const publicUrl = url(['http:', 'https:'])
  .refine((value) => {
    const parsed = new URL(value);
    return !parsed.search && !parsed.hash && !parsed.username && !parsed.password;
  }, 'must have no query, fragment or credentials')
  .transform((value) => value.replace(/\/+$/, ''));

const redisUrl = z.string().superRefine((value, ctx) => {
  try {
    redisTarget(value);
  } catch (error) {
    if (!(error instanceof RedisUrlError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.reason });
  }
});

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** An IPv4 or IPv6 address, optionally with a /prefix (CIDR). */
function isAddressOrSubnet(value: string): boolean {
  const [address, prefix, extra] = value.split('/');
  const version = isIP(address);
  if (!version || extra !== undefined) return false;
  return prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128));
}

/**
 * The API server's `trustProxy` from TRUST_PROXY: which peers may tell the client's address in
 * X-Forwarded-For (the public rate limits and the failed-authentication limit key on it).
 * `false`: none (the peer is the client); a number: that many proxies in front; otherwise a
 * comma-separated list of addresses, subnets and the names loopback, linklocal, uniquelocal.
 * `true` (believe anyone) is refused: every client could then choose its own address.
 */
export function trustProxy(value: string): false | number | string[] | null {
  const text = value.trim();
  if (text === 'false') return false;
  if (/^\d{1,2}$/.test(text)) return Number(text);
  const entries = text.split(',').map((entry) => entry.trim());
  return entries.every((entry) => PROXY_NAMES.includes(entry) || isAddressOrSubnet(entry)) ? entries : null;
}

/** The development value shown in .env.example and the README: never accepted in production. */
export const DEVELOPMENT_ADMIN_API_KEY = 'dev-admin-key-change-me';
/** The development SECRETS_KEY of .env.example (base64 of "dev-secrets-key-change-me-012345"): never accepted in production. */
export const DEVELOPMENT_SECRETS_KEY = 'ZGV2LXNlY3JldHMta2V5LWNoYW5nZS1tZS0wMTIzNDU=';

/** Hosts in WEBHOOK_ALLOW_HTTP_HOSTS: names or IP addresses, comma-separated, or `none`. */
const HOST_LIST = /^(?:none|[A-Za-z0-9._:[\]-]+(?:\s*,\s*[A-Za-z0-9._:[\]-]+)*)$/;
/** Shortest admin key accepted when NODE_ENV=production. */
export const PRODUCTION_ADMIN_KEY_LENGTH = 32;

const schema = z.object({
  DATABASE_URL: url(['postgres:', 'postgresql:']).default('postgres://postgres@127.0.0.1:5432/billing'),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  ADMIN_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
  /** Encrypts webhook endpoint secrets at rest (AES-256-GCM): 32 random bytes, base64. */
  SECRETS_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/]{43}=$/, 'must be 32 bytes in base64 (openssl rand -base64 32)')
    .optional(),
  /** Hosts webhooks may reach over plain http and at private addresses (development and tests). */
  WEBHOOK_ALLOW_HTTP_HOSTS: z
    .string()
    .transform((value) => value.trim())
    .refine((value) => HOST_LIST.test(value), 'must be a comma-separated list of host names or addresses, or none')
    .default('127.0.0.1,localhost'),
  /** How long one webhook delivery may take, connection to last byte of the answer. */
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(10_000),
  USAGE_QUEUE: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 _ . -').default('usage-events'),
  MAINTENANCE_QUEUE: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 _ . -').default('billing-maintenance'),
  /** BullMQ's key prefix; on a Redis Cluster it carries a hash tag ({billing}), so each queue's keys share one slot. */
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_.:{}-]{1,100}$/, 'must be 1-100 of A-Z a-z 0-9 _ . : - { }').default('bull'),
  /** Requests per minute per client address on public routes (pricing). */
  RATE_LIMIT_PUBLIC_PER_MINUTE: z.coerce.number().int().min(1).default(300),
  /** Requests per minute per account key. The admin key (the gateway, finance) is not limited. */
  RATE_LIMIT_ACCOUNT_PER_MINUTE: z.coerce.number().int().min(1).default(1200),
  /** Failed authentications (401) per minute per client address; past it, that address gets 429 for any key but the admin's. */
  RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).default(30),
  /** Which peers may tell the client's address in X-Forwarded-For (see trustProxy). */
  TRUST_PROXY: z
    .string()
    .refine((value) => trustProxy(value) !== null, 'must be false, a number of proxies, or a comma-separated list of addresses, subnets, loopback, linklocal, uniquelocal')
    .default('loopback'),
  /** How long a worker holds a job without renewing its lock; a killed worker's jobs return after this. */
  WORKER_LOCK_DURATION_MS: z.coerce.number().int().min(1000).default(30_000),
  /** How often workers look for jobs whose lock expired (stalled), to hand them out again. */
  WORKER_STALLED_INTERVAL_MS: z.coerce.number().int().min(1000).default(30_000),
  /**
   * Flushes a worker keeps in the database at once: each account belongs to one lane, and each
   * lane commits its own flushes, so on a machine with cores to spare the lanes' transactions run
   * side by side (they never lock the same account).
   */
  WORKER_FLUSH_LANES: z.coerce.number().int().min(1).max(16).default(2),
  /**
   * on: single-event usage jobs are also taken off the queue many at a time by the worker's own
   * scripts (libs/queue/src/bulk-jobs.ts); off: BullMQ's Worker takes every job, so BullMQ can be
   * upgraded without those scripts.
   */
  WORKER_BULK_TAKE: z.enum(['on', 'off'], { error: 'must be on or off' }).default('on').transform((value) => value === 'on'),
  /** How often each worker looks for grants whose expires_at has come (they expire within this, plus the run). */
  GRANT_EXPIRY_INTERVAL_MS: z.coerce.number().int().min(100).max(60_000).default(5_000),
  /** Who may frame the customer portal (CSP frame-ancestors of /portal): 'none', or the provider's own origins. */
  PORTAL_FRAME_ANCESTORS: frameAncestors.default("'none'"),
  /** The address customers open portal links at; without it, links use the address the admin's request came in on. */
  PORTAL_PUBLIC_URL: publicUrl.optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** The seller block of invoice PDFs; unset, invoices carry none (and the API says so at start). */
  INVOICE_SELLER_NAME: z.string().max(200, 'must be at most 200 characters').optional(),
  /** Address lines, separated by `\n` (the two characters, as an env file or a shell writes them) or by line breaks. */
  INVOICE_SELLER_ADDRESS: z
    .string()
    .transform((value) => value.split(/\\n|\r?\n/).map((line) => line.trim()).filter(Boolean))
    .pipe(z.array(z.string().max(200, 'lines must be at most 200 characters')).max(8, 'must be at most 8 lines'))
    .optional(),
  INVOICE_SELLER_TAX_ID: z.string().max(64, 'must be at most 64 characters').optional(),
  INVOICE_SELLER_EMAIL: z.email('must be an email address').optional(),
});

const SELLER_DETAILS = ['INVOICE_SELLER_ADDRESS', 'INVOICE_SELLER_TAX_ID', 'INVOICE_SELLER_EMAIL'] as const;

/** The keys are typed as present: the entry points that use them require them (see loadConfig's `required`). */
export type AppConfig = Readonly<Omit<z.infer<typeof schema>, 'ADMIN_API_KEY' | 'SECRETS_KEY'> & { ADMIN_API_KEY: string; SECRETS_KEY: string }>;

/** Every variable the service reads (NODE_ENV aside). */
export const CONFIG_VARIABLES = Object.keys(schema.shape) as (keyof AppConfig)[];

/** Thrown for a bad environment; its message is the one line an operator sees. */
export class ConfigError extends Error {}

/** What the API needs; the worker needs SECRETS_KEY only, the operator commands neither. */
export const API_REQUIRED: (keyof AppConfig)[] = ['ADMIN_API_KEY', 'SECRETS_KEY'];

/**
 * Validates the environment. Empty strings count as unset, so `PORT=` falls back to the default.
 * Under NODE_ENV=production (what the image runs with) the admin key and the secrets key must be
 * real secrets.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, required: (keyof AppConfig)[] = API_REQUIRED): AppConfig {
  const input = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in schema.shape && value !== undefined && value !== ''),
  );
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`Invalid configuration: ${String(issue.path[0])} ${issue.message}`);
  }
  const orphan = SELLER_DETAILS.find((key) => parsed.data[key] !== undefined);
  if (orphan && parsed.data.INVOICE_SELLER_NAME === undefined) {
    throw new ConfigError(`Invalid configuration: INVOICE_SELLER_NAME is required when ${orphan} is set`);
  }
  const cluster = redisTarget(parsed.data.REDIS_URL).cluster;
  if (cluster && hashTag(parsed.data.QUEUE_PREFIX) === null) {
    throw new ConfigError(
      `Invalid configuration: QUEUE_PREFIX must hold a hash tag such as {billing} when REDIS_URL is a Redis Cluster (every key of a queue must be in one slot), got ${JSON.stringify(parsed.data.QUEUE_PREFIX)}`,
    );
  }
  if (env.NODE_ENV === 'production') {
    refuseDevelopmentAdminKey(parsed.data.ADMIN_API_KEY);
    if (parsed.data.SECRETS_KEY === DEVELOPMENT_SECRETS_KEY) {
      throw new ConfigError('Invalid configuration: SECRETS_KEY is the development value from .env.example; NODE_ENV=production needs 32 random bytes (openssl rand -base64 32)');
    }
  }
  const missing = required.find((key) => parsed.data[key] === undefined);
  if (missing) throw new ConfigError(`Invalid configuration: ${missing} is required`);
  return Object.freeze(parsed.data) as AppConfig;
}

function refuseDevelopmentAdminKey(key: string | undefined): void {
  if (key === undefined) return;
  if (key === DEVELOPMENT_ADMIN_API_KEY) {
    throw new ConfigError(
      `Invalid configuration: ADMIN_API_KEY is the development value from .env.example; NODE_ENV=production needs a random secret of at least ${PRODUCTION_ADMIN_KEY_LENGTH} characters (openssl rand -hex 32)`,
    );
  }
  if (key.length < PRODUCTION_ADMIN_KEY_LENGTH) {
    throw new ConfigError(`Invalid configuration: ADMIN_API_KEY must be at least ${PRODUCTION_ADMIN_KEY_LENGTH} characters when NODE_ENV=production`);
  }
}

/**
 * Entry points call this first: a bad configuration prints one line naming the variable
 * and exits non-zero, before anything connects anywhere.
 */
export function loadConfigOrExit(required?: (keyof AppConfig)[]): AppConfig {
  try {
    return loadConfig(process.env, required);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

export const APP_CONFIG = Symbol('APP_CONFIG');
