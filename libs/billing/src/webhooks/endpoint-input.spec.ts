import { describe, expect, it } from '@jest/globals';
import { allowHostsFrom } from './address-policy.js';
import { parseEndpointInput } from './endpoint-input.js';
import { WEBHOOK_EVENT_TYPES } from './event-types.js';

const policy = { allowHosts: allowHostsFrom('127.0.0.1,localhost') };

describe('parseEndpointInput', () => {
  it('subscribes to every type when none is named, and to each named type once', () => {
    const all = parseEndpointInput({ url: 'https://hooks.example.com/billing' }, policy);
    expect(all).toMatchObject({ ok: true, input: { events: [...WEBHOOK_EVENT_TYPES], description: null } });
    const some = parseEndpointInput({ url: 'https://hooks.example.com/billing', events: ['balance.low', 'balance.low', 'hold.declined'], description: 'alerts' }, policy);
    expect(some).toMatchObject({ ok: true, input: { events: ['balance.low', 'hold.declined'], description: 'alerts' } });
  });

  it('names every bad field', () => {
    const result = parseEndpointInput({ url: 'http://hooks.example.com/x', events: ['balance.low', 'balance.lower'], description: 7 }, policy);
    expect(result).toMatchObject({ ok: false, status: 422 });
    if (result.ok) return;
    expect(result.errors.map((e) => e.field)).toEqual(['url', 'events[1]', 'description']);
    expect(result.errors[1].message).toMatch(/^"balance.lower" is not an event type \(balance.low, /);
  });

  it('refuses an empty list of events', () => {
    expect(parseEndpointInput({ url: 'https://h.example.com/', events: [] }, policy)).toMatchObject({ ok: false, errors: [{ field: 'events' }] });
  });
});
