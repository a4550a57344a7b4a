import { useEffect } from 'preact/hooks';
import { formatMoney } from '../decimal';
import { formatDay, formatInstant } from '../format';
import type { Balance } from '../types';

/** A smaller figure under the balance (held, available), with its test id from its label. */
function Secondary({ label, value }: { label: string; value: string }) {
  return (
    <div>
      <dt>{label}</dt>
      <dd class="figure secondary" data-testid={label.toLowerCase()}>
        {formatMoney(value)}
      </dd>
    </div>
  );
}

/** Balance, held and available, status, and the next credit expiry. */
export function BalanceCard({ balance }: { balance: Balance }) {
  const depleted = balance.status === 'depleted';
  useEffect(() => void performance.mark('portal:balance'), []);
  return (
    <section class="card balance" aria-labelledby="balance-title" data-testid="balance-card">
      <h2 id="balance-title">Balance</h2>
      {depleted && (
        <p class="alert alert-error" data-testid="depleted">
          <strong>Depleted.</strong> Your balance is at or below zero, so requests are not being served. Add credits to resume.
        </p>
      )}
      <dl class="figures">
        <div>
          <dt>Balance</dt>
          <dd class={`figure ${depleted ? 'negative' : ''}`} data-testid="balance">
            {formatMoney(balance.balance)}
          </dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd>
            <span class={`badge ${depleted ? 'badge-bad' : 'badge-good'}`} data-testid="status">
              {depleted ? 'Depleted' : 'Active'}
            </span>
          </dd>
        </div>
      </dl>
      <dl class="figures sub">
        <Secondary label="Held" value={balance.held} />
        <Secondary label="Available" value={balance.available} />
      </dl>
      <p class="hint">Held: reserved for requests in progress. Available: what new requests can spend.</p>
      {balance.next_expiry && (
        <p class="notice" data-testid="next-expiry">
          {formatMoney(balance.next_expiry.amount)} of credit expires on {formatDay(balance.next_expiry.at)}.
        </p>
      )}
      <p class="hint">
        {balance.currency}, as of {formatInstant(balance.as_of)}
        {balance.last_usage_at ? `; last usage ${formatInstant(balance.last_usage_at)}` : ''}.
      </p>
    </section>
  );
}
