import 'reflect-metadata';
import { Logger } from 'nestjs-pino';
import { closeOnSignals, loadConfigOrExit } from '@app/config';
import { createApiApp } from './app.factory.js';

const config = loadConfigOrExit();
const app = await createApiApp(config);
closeOnSignals(app, (message) => app.get(Logger).log(message));
// All interfaces, as a container needs (Fastify's own default is localhost only).
await app.listen(config.PORT, '0.0.0.0');
app.get(Logger).log(`api: listening on :${config.PORT}`);
if (config.INVOICE_SELLER_NAME === undefined) {
  app.get(Logger).warn('INVOICE_SELLER_NAME is not set: invoice PDFs carry no seller block');
}
