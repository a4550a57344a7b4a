export * from './config.js';
export * from './shutdown.js';
export * from './logger.js';
