export * from './config.js';
export * from './redis.js';
export * from './shutdown.js';
export * from './logging.js';
export * from './logger.js';
