import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { closeOnSignals, loadConfigOrExit } from '@app/config';
import { WorkerModule } from './worker.module.js';

const config = loadConfigOrExit([]);
const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), { bufferLogs: true });
app.useLogger(app.get(Logger));
closeOnSignals(app, (message) => app.get(Logger).log(message));
await app.init();
app.get(Logger).log(`worker: consuming ${config.QUEUE_PREFIX}:${config.USAGE_QUEUE}`);
