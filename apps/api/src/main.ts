import 'reflect-metadata';
import { loadConfigOrExit } from '@app/config';
import { createApiApp } from './app.factory.js';

const config = loadConfigOrExit();
const app = await createApiApp(config);
await app.listen(config.PORT);
