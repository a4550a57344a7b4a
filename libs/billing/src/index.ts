export * from './money.js';
export * from './catalog.js';
export * from './rate-card.js';
export * from './usage.js';
export * from './json.js';
export * from './event.js';
export * from './pricing.js';
export * from './errors.js';
