import { isTransient } from './transient.js';

/** Waits between attempts to reach Postgres at start: 0.5 s, doubling, at most 15 s. */
export const connectDelayMs = (attempt: number): number => Math.min(15_000, 500 * 2 ** (attempt - 1));

export interface ConnectOptions {
  /** Told about each wait, in one line. */
  onWait: (message: string) => void;
  /** Give up (rethrow the last error) once this much time has passed; forever by default. */
  giveUpAfterMs?: number;
}

/**
 * Runs `attempt` until it succeeds. A failure that waiting can outlive (Postgres not listening yet,
 * starting up, too many connections) is retried with backoff, and each wait is logged; any other
 * failure (a wrong password, a database that does not exist) is thrown at once.
 */
export async function whenPostgresAnswers<T>(attempt: () => Promise<T>, { onWait, giveUpAfterMs = Infinity }: ConnectOptions): Promise<T> {
  const started = Date.now();
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      const delay = connectDelayMs(n);
      if (!isTransient(error) || Date.now() + delay - started > giveUpAfterMs) throw error;
      onWait(`Postgres is not reachable (${describe(error)}); retrying in ${delay / 1000} s (attempt ${n})`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

const describe = (error: unknown): string => (error as Error).message || String((error as { code?: unknown }).code ?? error);
