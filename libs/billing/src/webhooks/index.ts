export * from './address-policy.js';
export * from './billing-settings.js';
export * from './endpoint-input.js';
export * from './event-types.js';
export * from './retry-schedule.js';
export * from './secret-box.js';
export * from './signature.js';
