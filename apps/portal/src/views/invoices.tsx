import { useState } from 'preact/hooks';
import { ApiError, accountPath, getBlob, query, saveBlob } from '../api';
import type { Credentials } from '../credentials';
import { formatMoney } from '../decimal';
import { label } from '../format';
import type { Invoice, Page } from '../types';
import { useApi } from '../use-api';
import { LoadStatus } from './status';

/** Invoices, newest first, each with its PDF (fetched with the sign-in's credentials, then saved). */
export function InvoicesCard({ credentials, refresh }: { credentials: Credentials; refresh: number }) {
  const invoices = useApi<Page<Invoice>>(credentials, accountPath(credentials, `/invoices${query({ limit: 24 })}`), refresh);
  const [failure, setFailure] = useState<string | null>(null);
  const download = async (invoice: Invoice) => {
    setFailure(null);
    try {
      saveBlob(await getBlob(credentials, `/v1/invoices/${encodeURIComponent(invoice.invoice_id)}/pdf`), `${invoice.number}.pdf`);
    } catch (error) {
      setFailure(`Could not download ${invoice.number}: ${error instanceof ApiError ? error.detail : String(error)}`);
    }
  };
  return (
    <section class="card" aria-labelledby="invoices-title" data-testid="invoices-card">
      <h2 id="invoices-title">Invoices</h2>
      <LoadStatus loaded={invoices} what="invoices" />
      {failure && (
        <p class="alert alert-error" role="alert">
          {failure}
        </p>
      )}
      {invoices.state === 'ok' &&
        (invoices.data.data.length === 0 ? (
          <p class="muted">No invoices yet: the first one is drawn up after your first month of usage.</p>
        ) : (
          <div class="table-wrap" tabIndex={0} aria-label="Invoices">
            <table>
              <thead>
                <tr>
                  <th scope="col">Invoice</th>
                  <th scope="col">Month</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="num">Usage</th>
                  <th scope="col">
                    <span class="visually-hidden">Document</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {invoices.data.data.map((invoice) => (
                  <tr key={invoice.invoice_id} data-testid="invoice-row">
                    <td>{invoice.number}</td>
                    <td>{invoice.period}</td>
                    <td>{label(invoice.status)}</td>
                    <td class="num">{formatMoney(invoice.usage_total_rounded)}</td>
                    <td>
                      <button type="button" class="link" onClick={() => void download(invoice)} aria-label={`Download invoice ${invoice.number} as PDF`}>
                        PDF
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ))}
    </section>
  );
}

const isoDay = (date: Date) => date.toISOString().slice(0, 10);

/** The account's own usage as CSV (one row per priced event) for the chosen UTC days, both included. */
export function UsageCsvCard({ credentials }: { credentials: Credentials }) {
  const today = new Date();
  const [from, setFrom] = useState(isoDay(new Date(today.getTime() - 29 * 86_400_000)));
  const [to, setTo] = useState(isoDay(today));
  const [status, setStatus] = useState<{ error: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const download = async (event: Event) => {
    event.preventDefault();
    if (!from || !to || from > to) return setStatus({ error: true, text: 'Choose a first day on or before the last day.' });
    const end = new Date(Date.parse(`${to}T00:00:00Z`) + 86_400_000);
    setBusy(true);
    setStatus({ error: false, text: 'Preparing your CSV…' });
    try {
      const blob = await getBlob(credentials, accountPath(credentials, `/exports/usage.csv${query({ from: `${from}T00:00:00Z`, to: end.toISOString() })}`));
      saveBlob(blob, `usage-${credentials.accountId}-${from}-to-${to}.csv`);
      setStatus({ error: false, text: 'Downloaded.' });
    } catch (error) {
      setStatus({ error: true, text: `Could not download the CSV: ${error instanceof ApiError ? error.detail : String(error)}` });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="csv-title" data-testid="csv-card">
      <h2 id="csv-title">Usage export</h2>
      <p class="hint">Every priced request in the chosen UTC days, as CSV: tokens by class and exact cost.</p>
      <form method="post" class="csv-form" onSubmit={download} noValidate>
        <div>
          <label for="csv-from">First day</label>
          <input id="csv-from" type="date" value={from} onInput={(e) => setFrom(e.currentTarget.value)} required />
        </div>
        <div>
          <label for="csv-to">Last day</label>
          <input id="csv-to" type="date" value={to} onInput={(e) => setTo(e.currentTarget.value)} required />
        </div>
        <button type="submit" disabled={busy}>
          Download CSV
        </button>
      </form>
      <p class={status?.error ? 'alert alert-error' : 'muted'} role="status" data-testid="csv-status">
        {status?.text ?? ''}
      </p>
    </section>
  );
}
