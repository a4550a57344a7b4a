/** Scheduled work on MAINTENANCE_QUEUE (not the usage queue, whose jobs are usage only). */
export const GENERATE_INVOICES_JOB = 'generate-invoices';
export const MONTHLY_INVOICES_SCHEDULER = 'monthly-invoice-drafts';
/** Five minutes past midnight UTC on the first of every month. */
export const MONTHLY_INVOICES_PATTERN = '5 0 1 * *';

export interface GenerateInvoicesJobData {
  /** YYYY-MM; absent: the month before the one the job runs in. */
  period?: string;
}
