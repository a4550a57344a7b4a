/** Job names on USAGE_QUEUE (docs/integration.md, delivery over the queue). */
export const USAGE_JOB = 'usage';
export const USAGE_BATCH_JOB = 'usage-batch';
export const MAX_BATCH_EVENTS = 1000;

/**
 * What producers put on a usage-batch job (a usage job's data is one event). The data is never
 * trusted: the worker validates every event (libs/billing) and records what it cannot price.
 */
export interface UsageBatchJobData {
  events: unknown[];
}
