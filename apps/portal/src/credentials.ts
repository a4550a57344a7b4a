/**
 * Who the portal reads as: an account id and either an account key typed in, or a portal
 * session token from a link (`/portal/#account=…&session=ps_…`). They live in this tab's
 * sessionStorage (gone when the tab closes), never in localStorage or a cookie, and the
 * link's fragment is wiped from the address bar as soon as it is read.
 */
export interface Credentials {
  accountId: string;
  token: string;
  via: 'key' | 'session';
}

const STORAGE_KEY = 'billing-portal';
export const ACCOUNT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const ACCOUNT_KEY = /^bk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;
const SESSION_TOKEN = /^ps_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;

export type FragmentResult = { credentials: Credentials } | { error: string } | null;

export const BAD_LINK = 'This portal link is not valid: it may have been cut short or changed. Ask for a new link, or sign in with an API key.';

/** Reads a portal link's fragment; null when the fragment is not a portal link at all. */
export function fromFragment(hash: string): FragmentResult {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  if (!params.has('session')) return null;
  const accountId = params.get('account') ?? '';
  const token = params.get('session') ?? '';
  if (!ACCOUNT_ID.test(accountId) || !SESSION_TOKEN.test(token)) return { error: BAD_LINK };
  return { credentials: { accountId, token, via: 'session' } };
}

export function loadCredentials(): Credentials | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Credentials | null;
    if (stored && ACCOUNT_ID.test(stored.accountId) && (SESSION_TOKEN.test(stored.token) || ACCOUNT_KEY.test(stored.token))) return stored;
  } catch {
    // unreadable: treat as signed out
  }
  return null;
}

export function saveCredentials(credentials: Credentials): void {
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials));
}

export function clearCredentials(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}
