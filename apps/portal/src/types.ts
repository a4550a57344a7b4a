/** The API's JSON, as the portal reads it. */
export interface Account {
  account_id: string;
  name: string;
  currency: string;
  balance: string;
  status: 'active' | 'depleted';
  created_at: string;
}

export interface Balance {
  account_id: string;
  balance: string;
  currency: string;
  status: 'active' | 'depleted';
  last_usage_at: string | null;
  as_of: string;
  /** Σ of the active spend holds, and balance − held. */
  held: string;
  available: string;
  /** The earliest expiry among active grants, and what expires then. */
  next_expiry: { at: string; amount: string } | null;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface LedgerEntry {
  entry_id: string;
  kind: string;
  credit_kind: string | null;
  amount: string;
  balance_after: string;
  created_at: string;
  reference: string | null;
  event_count?: number | null;
}

export interface Grant {
  grant_id: string;
  account_id: string;
  credit_kind: string;
  amount: string;
  remaining: string;
  priority: number;
  expires_at: string | null;
  status: 'active' | 'used' | 'expired' | 'voided';
  created_at: string;
  entry_id: string;
}

export interface Invoice {
  invoice_id: string;
  number: string;
  period: string;
  status: string;
  usage_total: string;
  usage_total_rounded: string;
  closing_balance: string;
}
