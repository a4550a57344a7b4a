export * from './data-source.js';
export * from './database.js';
export * from './db.module.js';
export * from './migrate.js';
export * from './repositories/accounts.repository.js';
export * from './repositories/api-keys.repository.js';
export * from './repositories/catalog.repository.js';
export * from './repositories/ledger.repository.js';
