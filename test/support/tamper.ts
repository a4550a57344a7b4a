import type { DataSource, EntityManager } from 'typeorm';

/**
 * Changes the data behind the service's back (triggers off: session_replication_role = replica),
 * runs `check`, then undoes the change the same way: for tests that prove a check catches it.
 */
export async function tampered<T>(db: DataSource, change: (tx: EntityManager) => Promise<unknown>, undo: (tx: EntityManager) => Promise<unknown>, check: () => Promise<T>): Promise<T> {
  const bypass = (fn: (tx: EntityManager) => Promise<unknown>) =>
    db.transaction(async (tx) => {
      await tx.query('SET LOCAL session_replication_role = replica');
      await fn(tx);
    });
  await bypass(change);
  try {
    return await check();
  } finally {
    await bypass(undo);
  }
}
