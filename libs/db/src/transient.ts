/**
 * Postgres and network failures that a retry can outlive. TypeORM's "query runner (was)
 * already released" errors are among them: when the server drops the connection mid-transaction,
 * TypeORM releases the transaction's query runner and the next statement reports that instead of
 * the lost connection. (Retrying a flush is always safe: its writes are idempotent.)
 */
const TRANSIENT_SQLSTATE = /^(08|40001|40P01|53|57P0[123]|55P03)/;
const TRANSIENT_MESSAGE = /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection terminated|timeout exceeded when trying to connect|terminating connection|the database system is (starting up|shutting down)|Client has encountered a connection error|Client was closed|not queryable|Connection is not established|query runner (was )?already released/i;

export function isTransient(error: unknown): boolean {
  const e = error as { code?: unknown; driverError?: { code?: unknown; message?: unknown }; message?: unknown };
  const code = String(e?.driverError?.code ?? e?.code ?? '');
  if (TRANSIENT_SQLSTATE.test(code)) return true;
  // Node's own errors name the failure in `code` (an AggregateError for a refused connection has no message).
  const message = `${code} ${String(e?.message ?? '')} ${String(e?.driverError?.message ?? '')}`;
  return TRANSIENT_MESSAGE.test(message);
}
