import { accountPath, query } from '../api';
import type { Credentials } from '../credentials';
import { formatMoney } from '../decimal';
import { formatDay, formatInstant, label } from '../format';
import type { Grant, LedgerEntry, Page } from '../types';
import { useApi } from '../use-api';
import { LoadStatus } from './status';

interface Props {
  credentials: Credentials;
  refresh: number;
}

/** The active grant that expires first: the one to highlight. */
export function soonestExpiring(grants: readonly Grant[]): Grant | undefined {
  return grants
    .filter((g) => g.status === 'active' && g.expires_at)
    .reduce<Grant | undefined>((soonest, g) => (!soonest || Date.parse(g.expires_at!) < Date.parse(soonest.expires_at!) ? g : soonest), undefined);
}

/** Credit grants with what is left of each and when it expires; the credits on the ledger while the API has no grants (404). */
export function CreditsCard({ credentials, refresh }: Props) {
  const grants = useApi<Page<Grant>>(credentials, accountPath(credentials, `/grants${query({ limit: 100 })}`), refresh);
  if (grants.state === 'error' && grants.error.status === 404) return <LedgerCredits credentials={credentials} refresh={refresh} />;
  const soonest = grants.state === 'ok' ? soonestExpiring(grants.data.data) : undefined;
  return (
    <section class="card" aria-labelledby="credits-title" data-testid="grants-card">
      <h2 id="credits-title">Credits</h2>
      <LoadStatus loaded={grants} what="credits" />
      {grants.state === 'ok' &&
        (grants.data.data.length === 0 ? (
          <p class="muted">No credits yet.</p>
        ) : (
          <>
            {soonest && (
              <p class="notice" data-testid="soonest-expiry">
                Next to expire: {formatMoney(soonest.remaining)} on {formatDay(soonest.expires_at!)}.
              </p>
            )}
            <div class="table-wrap scroll" tabIndex={0} aria-label="Credit grants">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Kind</th>
                    <th scope="col" class="num">Amount</th>
                    <th scope="col" class="num">Remaining</th>
                    <th scope="col">Expires</th>
                  </tr>
                </thead>
                <tbody>
                  {grants.data.data.map((g) => (
                    <tr key={g.grant_id} class={g === soonest ? 'highlight' : ''} data-testid="grant-row" data-soonest={g === soonest ? 'true' : undefined}>
                      <td>
                        {label(g.credit_kind)}
                        {g.status !== 'active' && <span class="badge block">{label(g.status)}</span>}
                      </td>
                      <td class="num">{formatMoney(g.amount)}</td>
                      <td class="num">{formatMoney(g.remaining)}</td>
                      <td>
                        {g.expires_at ? formatDay(g.expires_at) : 'Never'}
                        {g === soonest && <span class="badge badge-warn block">expires first</span>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        ))}
    </section>
  );
}

/** Before grants exist: the credits and adjustments among the latest ledger entries. */
function LedgerCredits({ credentials, refresh }: Props) {
  const ledger = useApi<Page<LedgerEntry>>(credentials, accountPath(credentials, `/ledger${query({ limit: 1000 })}`), refresh);
  const credits = ledger.state === 'ok' ? ledger.data.data.filter((e) => e.kind === 'credit' || e.kind === 'adjustment') : [];
  return (
    <section class="card" aria-labelledby="credits-title" data-testid="credits-card">
      <h2 id="credits-title">Credits</h2>
      <LoadStatus loaded={ledger} what="credits" />
      {ledger.state === 'ok' &&
        (credits.length === 0 ? (
          <p class="muted">{ledger.data.data.length === 0 ? 'No credits yet.' : `No credits among your latest ${ledger.data.data.length} ledger entries.`}</p>
        ) : (
          <div class="table-wrap scroll" tabIndex={0} aria-label="Credits">
            <table>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">Kind</th>
                  <th scope="col" class="num">Amount</th>
                  <th scope="col">Reference</th>
                </tr>
              </thead>
              <tbody>
                {credits.map((e) => (
                  <tr key={e.entry_id} data-testid="credit-row">
                    <td>{formatInstant(e.created_at)}</td>
                    <td>{label(e.credit_kind ?? e.kind)}</td>
                    <td class="num">{formatMoney(e.amount, { signed: true })}</td>
                    <td>{e.reference ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      {ledger.state === 'ok' && ledger.data.next_cursor && <p class="hint">From your latest {ledger.data.data.length} ledger entries; the ledger below has them all.</p>}
    </section>
  );
}
