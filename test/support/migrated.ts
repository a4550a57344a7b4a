import { migrate } from '../../libs/db/src/index.js';

// Every e2e file starts from a migrated database; the first one to get here creates it,
// the migration lock makes the others wait and then find nothing to do.
await migrate(process.env.DATABASE_URL!);
