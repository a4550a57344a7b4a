import { useState } from 'preact/hooks';
import { accountPath, query } from '../api';
import type { Credentials } from '../credentials';
import { formatCount, formatMoney, isNegative } from '../decimal';
import { formatInstant, label } from '../format';
import type { LedgerEntry, Page } from '../types';
import { useApi } from '../use-api';
import { LoadStatus } from './status';

export const LEDGER_PAGE_SIZE = 20;

function what(entry: LedgerEntry): string {
  if (entry.kind === 'usage') return entry.event_count ? `${formatCount(entry.event_count)} request${entry.event_count === 1 ? '' : 's'}` : '';
  return [entry.credit_kind && entry.credit_kind !== entry.kind ? label(entry.credit_kind) : '', entry.reference ?? ''].filter(Boolean).join(' · ');
}

/** The ledger, newest first, a page at a time (the API's cursors; earlier cursors kept to go back). */
export function LedgerCard({ credentials, refresh }: { credentials: Credentials; refresh: number }) {
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useApi<Page<LedgerEntry>>(credentials, accountPath(credentials, `/ledger${query({ limit: LEDGER_PAGE_SIZE, cursor })}`), refresh);
  const next = page.state === 'ok' ? page.data.next_cursor : null;
  return (
    <section class="card wide" aria-labelledby="ledger-title" data-testid="ledger-card">
      <h2 id="ledger-title">Ledger</h2>
      <p class="hint">Every credit and debit on your account, newest first. Times in UTC.</p>
      <LoadStatus loaded={page} what="the ledger" />
      {page.state === 'ok' &&
        (page.data.data.length === 0 ? (
          <p class="muted">No entries yet.</p>
        ) : (
          <div class="table-wrap" tabIndex={0} aria-label="Ledger entries">
            <table>
              <thead>
                <tr>
                  <th scope="col">Date</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Details</th>
                  <th scope="col" class="num">Amount</th>
                  <th scope="col" class="num">Balance after</th>
                </tr>
              </thead>
              <tbody>
                {page.data.data.map((e) => (
                  <tr key={e.entry_id} data-testid="ledger-row" data-entry-id={e.entry_id}>
                    <td>{formatInstant(e.created_at)}</td>
                    <td>
                      <span class={`kind kind-${e.kind}`}>{label(e.kind)}</span>
                    </td>
                    <td>{what(e)}</td>
                    <td class={`num ${isNegative(e.amount) ? 'negative' : 'positive'}`}>{formatMoney(e.amount, { signed: true })}</td>
                    <td class="num">{formatMoney(e.balance_after)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
      <nav class="pager" aria-label="Ledger pages">
        <button type="button" onClick={() => setCursors(cursors.slice(0, -1))} disabled={cursors.length === 1}>
          ← Newer
        </button>
        <span aria-live="polite" data-testid="ledger-page">
          Page {cursors.length}
        </span>
        <button type="button" onClick={() => next && setCursors([...cursors, next])} disabled={!next}>
          Older →
        </button>
      </nav>
    </section>
  );
}
