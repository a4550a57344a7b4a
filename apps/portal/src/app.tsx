import { useEffect, useState } from 'preact/hooks';
import { ApiError, accountPath, getJson, whenUnauthorized } from './api';
import { type Credentials, clearCredentials, fromFragment, loadCredentials, saveCredentials } from './credentials';
import type { Account, Balance } from './types';
import { BalanceCard } from './views/balance';
import { CreditsCard } from './views/credits';
import { InvoicesCard, UsageCsvCard } from './views/invoices';
import { LedgerCard } from './views/ledger';
import { SignIn } from './views/sign-in';
import { UsageCard } from './views/usage';

interface SignedIn {
  credentials: Credentials;
  account: Account;
  balance: Balance;
}

/** Why a sign-in was refused, in words a customer can act on. */
function refusal(error: unknown, credentials: Credentials): string {
  const link = credentials.via === 'session';
  if (!(error instanceof ApiError)) return 'Something went wrong while signing in. Try again.';
  if (error.status === 401) {
    return link
      ? 'This portal link has expired or is not valid. Ask for a new link, or sign in with an API key.'
      : 'That API key was not accepted: it may be mistyped or revoked.';
  }
  if (error.status === 403) {
    return link
      ? `This portal link does not open account “${credentials.accountId}”. Ask for a new link.`
      : `This key may not read account “${credentials.accountId}”. Check the account ID: a key opens its own account only.`;
  }
  if (error.status === 404) return `There is no account “${credentials.accountId}”.`;
  return error.detail;
}

/** Reads a portal link from the address bar once, then removes it so it is neither kept in history nor shared by copy and paste. */
function takeFragment(): { credentials?: Credentials; error?: string } {
  const result = fromFragment(location.hash);
  if (result === null) return {};
  history.replaceState(null, '', location.pathname + location.search);
  return 'error' in result ? { error: result.error } : { credentials: result.credentials };
}

export function App() {
  const [signedIn, setSignedIn] = useState<SignedIn | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(true);
  const [refresh, setRefresh] = useState(0);

  const signOut = (message: string | null) => {
    clearCredentials();
    setSignedIn(null);
    setError(message);
  };

  const signIn = async (credentials: Credentials) => {
    setBusy(true);
    setError(null);
    try {
      const [account, balance] = await Promise.all([
        getJson<Account>(credentials, accountPath(credentials)),
        getJson<Balance>(credentials, accountPath(credentials, '/balance')),
      ]);
      saveCredentials(credentials);
      setSignedIn({ credentials, account, balance });
    } catch (failure) {
      signOut(refusal(failure, credentials));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    const fromLink = takeFragment();
    const credentials = fromLink.credentials ?? (fromLink.error ? null : loadCredentials());
    if (fromLink.error) {
      clearCredentials();
      setError(fromLink.error);
    }
    if (credentials) void signIn(credentials);
    else setBusy(false);
    const onHash = () => {
      const next = takeFragment();
      if (next.credentials) void signIn(next.credentials);
      else if (next.error) signOut(next.error);
    };
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);

  useEffect(() => {
    whenUnauthorized(() => {
      if (signedIn) signOut(refusal(new ApiError(401, ''), signedIn.credentials));
    });
  }, [signedIn]);

  const reload = async () => {
    if (!signedIn) return;
    const { credentials } = signedIn;
    try {
      const balance = await getJson<Balance>(credentials, accountPath(credentials, '/balance'));
      setSignedIn({ ...signedIn, balance });
      setRefresh(refresh + 1);
    } catch (failure) {
      if (!(failure instanceof ApiError && failure.status === 401)) setError(refusal(failure, credentials));
    }
  };

  if (!signedIn) return busy && !error ? <p class="loading">Loading…</p> : <SignIn error={error} busy={busy} onSubmit={(accountId, token) => void signIn({ accountId, token, via: 'key' })} />;

  const { credentials, account, balance } = signedIn;
  return (
    <>
      <header class="topbar">
        <div>
          <p class="product">Billing portal</p>
          <h1 data-testid="account-name">{account.name}</h1>
          <p class="account-id">
            Account <code>{account.account_id}</code>
            {credentials.via === 'session' && <span class="badge">Read-only link</span>}
          </p>
        </div>
        <div class="actions">
          <button type="button" onClick={() => void reload()}>
            Refresh
          </button>
          <button type="button" onClick={() => signOut(null)}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" class="grid">
        {error && (
          <p class="alert alert-error wide" role="alert">
            {error}
          </p>
        )}
        <BalanceCard balance={balance} />
        <CreditsCard credentials={credentials} refresh={refresh} />
        <UsageCard credentials={credentials} refresh={refresh} />
        <LedgerCard credentials={credentials} refresh={refresh} />
        <InvoicesCard credentials={credentials} refresh={refresh} />
        <UsageCsvCard credentials={credentials} />
      </main>
    </>
  );
}
