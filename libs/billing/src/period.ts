/** A billing period: one UTC calendar month, written 'YYYY-MM'. */
export interface Period {
  id: string;
  start: Date;
  /** Exclusive. */
  end: Date;
}

const PERIOD = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function parsePeriod(id: unknown): Period | null {
  if (typeof id !== 'string') return null;
  const match = PERIOD.exec(id);
  if (!match) return null;
  const year = Number(match[1]);
  const month = Number(match[2]) - 1;
  if (year < 2000 || year > 9998) return null;
  return { id, start: new Date(Date.UTC(year, month, 1)), end: new Date(Date.UTC(year, month + 1, 1)) };
}

export function periodOf(instant: Date): Period {
  const id = `${instant.getUTCFullYear()}-${String(instant.getUTCMonth() + 1).padStart(2, '0')}`;
  return parsePeriod(id)!;
}

export function previousPeriod(period: Period): Period {
  return periodOf(new Date(period.start.getTime() - 1));
}

/** 'November 2026' */
export function periodName(period: Period): string {
  return period.start.toLocaleString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });
}
