/** Dates as the portal shows them: always UTC, the zone the API bills in. */
const DAY = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short', year: 'numeric' });
const DAY_SHORT = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: 'numeric', month: 'short' });

/** "2026-11-24T10:05:00.000Z" -> "2026-11-24 10:05 UTC" */
export const formatInstant = (iso: string): string => `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;

/** "24 Nov 2026" */
export const formatDay = (iso: string): string => DAY.format(new Date(iso));

/** A chart axis tick: "24 Nov" on a day boundary (UTC), else "10:00". */
export function formatTick(unixSeconds: number, granularity: 'day' | 'hour'): string {
  const date = new Date(unixSeconds * 1000);
  const time = date.toISOString().slice(11, 16);
  return granularity === 'day' || time === '00:00' ? DAY_SHORT.format(date) : time;
}

/** A chart period: "24 Nov 2026" for days, "24 Nov, 10:00 UTC" for hours. */
export const formatPeriod = (iso: string, granularity: 'day' | 'hour'): string =>
  granularity === 'day' ? formatDay(iso) : `${DAY_SHORT.format(new Date(iso))}, ${new Date(iso).toISOString().slice(11, 16)} UTC`;

/** "purchase" -> "Purchase", "cached_input" -> "Cached input" */
export const label = (code: string): string => (code.charAt(0).toUpperCase() + code.slice(1)).replace(/_/g, ' ');
