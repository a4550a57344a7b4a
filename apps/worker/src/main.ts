import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { closeOnSignals, loadConfigOrExit, pinoNestLogger } from '@app/config';
import { WorkerModule, workerLogging } from './worker.module.js';

const config = loadConfigOrExit(['SECRETS_KEY']);
// Creating the context runs its init: it waits for Postgres and for the migrations, then consumes.
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { logger: pinoNestLogger(await workerLogging(config)) });
closeOnSignals(app, (message) => app.get(Logger).log(message));
app.get(Logger).log(`worker: consuming ${config.QUEUE_PREFIX}:${config.USAGE_QUEUE}`);
