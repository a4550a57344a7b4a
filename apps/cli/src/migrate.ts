import { loadConfigOrExit } from '@app/config';
import { migrate } from '@app/db';

const config = loadConfigOrExit([]);
const result = await migrate(config.DATABASE_URL, { onWait: (message) => console.error(`migrate: ${message}`) });
const where = new URL(config.DATABASE_URL).pathname.slice(1);
if (result.createdDatabase) console.log(`migrate: created database ${where}`);
console.log(
  result.applied.length
    ? `migrate: applied ${result.applied.length} migration(s): ${result.applied.join(', ')}`
    : `migrate: ${where} is up to date`,
);
