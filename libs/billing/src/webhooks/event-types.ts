/**
 * What the service tells the provider's other systems, through webhooks. Each event is written to
 * the outbox in the transaction of the change that causes it, so it is sent if and only if the
 * change committed.
 */
export const WEBHOOK_EVENT_TYPES = [
  /** The balance fell below the account's low_balance_threshold (once per crossing). */
  'balance.low',
  /** The balance reached zero or less: the gateway stops serving the account. */
  'balance.depleted',
  /** The balance went from zero or less back above zero. */
  'balance.recovered',
  /** A grant expires within 7 days and still holds something (once per grant). */
  'credits.expiring',
  /** What was left of a grant was removed at its expiry. */
  'credits.expired',
  'invoice.finalized',
  /** Auto-recharge: charge the card and credit the account with the event's idempotency_key. */
  'recharge.requested',
  /** A hold was refused (402): the account had not enough available. */
  'hold.declined',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const isWebhookEventType = (value: unknown): value is WebhookEventType => typeof value === 'string' && (WEBHOOK_EVENT_TYPES as readonly string[]).includes(value);

/** credits.expiring is sent this long before a grant's expires_at. */
export const EXPIRING_NOTICE_MS = 7 * 86_400_000;

/** An open recharge request blocks the next one for this long (or until it is credited). */
export const RECHARGE_WINDOW_MS = 24 * 3_600_000;

/** The idempotency key of the recharge requested by the usage debit with this ledger entry id. */
export const rechargeKeyOf = (entryId: string | bigint): string => `rch_${entryId}`;
