export * from './bulk-jobs.js';
export * from './connection.js';
export * from './jobs.js';
export * from './queue.module.js';
export * from './usage-producer.js';
export * from './maintenance.js';
export * from './metrics.js';
export * from './slots.js';
