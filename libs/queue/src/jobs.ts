/** Job names on USAGE_QUEUE (contract section 3). */
export const USAGE_JOB = 'usage';
export const USAGE_BATCH_JOB = 'usage-batch';
export const MAX_BATCH_EVENTS = 1000;

/**
 * What producers put on the queue. The data is never trusted: the worker validates every
 * event (libs/billing) and records what it cannot price as a rejection.
 */
export type UsageJobData = unknown;
export interface UsageBatchJobData {
  events: unknown[];
}
