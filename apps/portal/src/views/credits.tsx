import { accountPath, query } from '../api';
import type { Credentials } from '../credentials';
import { formatMoney } from '../decimal';
import { formatDay, label } from '../format';
import type { Grant, Page } from '../types';
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

/** Credit grants (the latest 100) with what is left of each and when it expires, the soonest expiry highlighted. */
export function CreditsCard({ credentials, refresh }: Props) {
  const grants = useApi<Page<Grant>>(credentials, accountPath(credentials, `/grants${query({ limit: 100 })}`), refresh);
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
