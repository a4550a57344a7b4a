import { useEffect, useRef, useState } from 'preact/hooks';
import { ACCOUNT_ID, ACCOUNT_KEY } from '../credentials';

interface Props {
  error: string | null;
  busy: boolean;
  onSubmit: (accountId: string, key: string) => void;
}

/** Sign-in with an account id and an account API key; the key stays in this tab only. */
export function SignIn({ error, busy, onSubmit }: Props) {
  const [accountId, setAccountId] = useState('');
  const [key, setKey] = useState('');
  const [invalid, setInvalid] = useState<string | null>(null);
  const alertRef = useRef<HTMLDivElement>(null);
  const shown = invalid ?? error;

  useEffect(() => {
    if (shown) alertRef.current?.focus();
  }, [shown]);

  const submit = (event: Event) => {
    event.preventDefault();
    const id = accountId.trim();
    const secret = key.trim();
    if (!ACCOUNT_ID.test(id)) return setInvalid('Enter your account ID: letters, digits and _ . : - only.');
    if (!ACCOUNT_KEY.test(secret)) return setInvalid('Enter an account API key: it starts with bk_ and is 64 characters long.');
    setInvalid(null);
    onSubmit(id, secret);
  };

  return (
    <main id="main" class="sign-in">
      <h1>Billing portal</h1>
      <p class="lead">See your balance, usage, ledger and invoices.</p>
      {shown && (
        <div class="alert alert-error" role="alert" tabIndex={-1} ref={alertRef} data-testid="sign-in-error">
          {shown}
        </div>
      )}
      <form method="post" onSubmit={submit} aria-label="Sign in" noValidate>
        <label for="account-id">Account ID</label>
        <input id="account-id" name="account" autoComplete="username" spellcheck={false} value={accountId} onInput={(e) => setAccountId(e.currentTarget.value)} required />
        <label for="api-key">API key</label>
        <input
          id="api-key"
          name="key"
          type="password"
          autoComplete="off"
          spellcheck={false}
          aria-describedby="api-key-hint"
          value={key}
          onInput={(e) => setKey(e.currentTarget.value)}
          required
        />
        <p id="api-key-hint" class="hint">
          Kept in this browser tab only, and forgotten when you close it or sign out.
        </p>
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
