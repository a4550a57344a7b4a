/**
 * When a delivery that was not acknowledged is tried again: 5 s after the first failure, then
 * three times longer after each failure, at most 6 hours apart, each delay moved by up to ±20%
 * at random (so receivers that failed together are not all retried at the same instant). A
 * delivery is given up once a failure comes 24 hours or more after its first try.
 */
export const FIRST_RETRY_MS = 5_000;
export const RETRY_FACTOR = 3;
export const MAX_RETRY_DELAY_MS = 6 * 3_600_000;
export const RETRY_JITTER = 0.2;
export const RETRY_FOR_MS = 24 * 3_600_000;

/** The delay before the next try after `failures` failed tries (1 = the first failure), without jitter. */
export function nominalRetryDelayMs(failures: number): number {
  if (!Number.isInteger(failures) || failures < 1) throw new RangeError('failures counts from 1');
  return Math.min(FIRST_RETRY_MS * RETRY_FACTOR ** (failures - 1), MAX_RETRY_DELAY_MS);
}

/** The delay with jitter; `random` in [0, 1). */
export function retryDelayMs(failures: number, random: () => number = Math.random): number {
  return Math.round(nominalRetryDelayMs(failures) * (1 - RETRY_JITTER + 2 * RETRY_JITTER * random()));
}

/** After a failure at `now`: when to try again, or null to give up. */
export function nextRetryAt(firstTryAt: Date, failures: number, now: Date, random: () => number = Math.random): Date | null {
  if (now.getTime() - firstTryAt.getTime() >= RETRY_FOR_MS) return null;
  return new Date(now.getTime() + retryDelayMs(failures, random));
}

/** The nominal schedule until giving up: each retry's delay and its time after the first try. */
export function nominalSchedule(): { retry: number; delayMs: number; atMs: number }[] {
  const out: { retry: number; delayMs: number; atMs: number }[] = [];
  let at = 0;
  for (let failures = 1; at < RETRY_FOR_MS; failures++) {
    const delayMs = nominalRetryDelayMs(failures);
    at += delayMs;
    out.push({ retry: failures, delayMs, atMs: at });
  }
  return out;
}
