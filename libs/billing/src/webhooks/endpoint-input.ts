import { isPlainObject, isStorableString, ownField } from '../json.js';
import { type TargetPolicy, checkEndpointUrl } from './address-policy.js';
import { WEBHOOK_EVENT_TYPES, type WebhookEventType, isWebhookEventType } from './event-types.js';

export const MAX_ENDPOINT_DESCRIPTION_LENGTH = 500;

export interface EndpointInput {
  url: URL;
  /** Every type when the request named none. */
  events: WebhookEventType[];
  description: string | null;
}

export type EndpointInputResult = { ok: true; input: EndpointInput } | { ok: false; status: 400 | 422; errors: { field: string; message: string }[] };

/**
 * Reads `{ url, events?, description? }` (the URL's address is checked apart, by resolving it).
 * events: a non-empty list of known types, each once; without it, every type.
 */
export function parseEndpointInput(body: unknown, policy: TargetPolicy): EndpointInputResult {
  if (!isPlainObject(body)) return { ok: false, status: 400, errors: [{ field: 'body', message: 'must be a JSON object' }] };
  const errors: { field: string; message: string }[] = [];
  const url = checkEndpointUrl(ownField(body, 'url'), policy);
  if (!url.ok) errors.push({ field: 'url', message: url.message });

  let events: WebhookEventType[] = [...WEBHOOK_EVENT_TYPES];
  const rawEvents = ownField(body, 'events');
  if (rawEvents !== undefined && rawEvents !== null) {
    if (!Array.isArray(rawEvents) || rawEvents.length === 0) errors.push({ field: 'events', message: `must be a non-empty list of event types (${WEBHOOK_EVENT_TYPES.join(', ')})` });
    else {
      rawEvents.forEach((type, i) => {
        if (!isWebhookEventType(type)) {
          errors.push({ field: `events[${i}]`, message: `${JSON.stringify(type).slice(0, 80)} is not an event type (${WEBHOOK_EVENT_TYPES.join(', ')})` });
        }
      });
      events = [...new Set(rawEvents.filter(isWebhookEventType))];
    }
  }

  let description: string | null = null;
  const rawDescription = ownField(body, 'description');
  if (rawDescription !== undefined && rawDescription !== null) {
    if (typeof rawDescription !== 'string' || [...rawDescription].length > MAX_ENDPOINT_DESCRIPTION_LENGTH || !isStorableString(rawDescription)) {
      errors.push({ field: 'description', message: `must be a string of at most ${MAX_ENDPOINT_DESCRIPTION_LENGTH} characters` });
    } else description = rawDescription;
  }
  if (errors.length || !url.ok) return { ok: false, status: 422, errors };
  return { ok: true, input: { url: url.url, events, description } };
}
