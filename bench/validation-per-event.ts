/**
 * CPU per event of the validation every usage event goes through twice: checkUsageEvent (the
 * API's, on POST /v1/usage-events, before it enqueues) and validateUsageEvent (the worker's, which
 * also prices the event and hashes its content). Pure computation on the bench's own 100,000
 * events, parsed from their JSON as a request body would be; no database, no Redis.
 *
 *   npm run build && node dist/bench/validation-per-event.js
 *
 * Six passes of each; the first two warm the JIT up and are not shown. Process CPU, so run it on
 * a quiet machine and compare only runs taken in turn.
 */
import { LAUNCH_CATALOG, LAUNCH_PRICES, type ValidationContext, checkUsageEvent, validateUsageEvent } from '@app/billing';
import { makeEvents } from './events.js';

const EVENTS = 100_000;
const PASSES = 6;
const WARM_UP = 2;

const events = JSON.parse(JSON.stringify(makeEvents({ run: 'v', tag: 'x', n: EVENTS, accounts: 1000, seed: 7 }).events)) as unknown[];
const ctx: ValidationContext = { catalog: LAUNCH_CATALOG, rateCards: [LAUNCH_PRICES], now: new Date() };

for (const [name, validate] of [['checkUsageEvent', checkUsageEvent], ['validateUsageEvent', validateUsageEvent]] as const) {
  const perEvent: string[] = [];
  for (let pass = 0; pass < PASSES; pass++) {
    const before = process.cpuUsage();
    let ok = 0;
    for (const event of events) if (validate(event, ctx).ok) ok += 1;
    const used = process.cpuUsage(before);
    if (ok !== EVENTS) throw new Error(`${name}: ${EVENTS - ok} of the bench's events were rejected`);
    if (pass >= WARM_UP) perEvent.push(((used.user + used.system) / EVENTS).toFixed(2));
  }
  process.stdout.write(`${name}: ${perEvent.join(', ')} µs of CPU per event\n`);
}
