import { randomBytes } from 'node:crypto';
import { dropDatabase, migrate } from '../../libs/db/src/index.js';

/** A migrated database of its own, for a spec that changes what every other spec relies on. */
export async function scratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${url.pathname.slice(1)}_${randomBytes(3).toString('hex')}`;
  await migrate(url.toString());
  return { url: url.toString(), drop: () => dropDatabase(url.toString()) };
}
