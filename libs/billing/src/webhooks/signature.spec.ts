import { describe, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { newWebhookSecret, signatureHeader, signMessage } from './signature.js';

describe('Standard Webhooks signatures', () => {
  it('makes whsec_ secrets of 32 random bytes', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it('signs exactly as the reference implementation does', () => {
    const secret = newWebhookSecret();
    const at = new Date('2026-12-01T10:00:00Z');
    const body = JSON.stringify({ type: 'balance.low', timestamp: at.toISOString(), data: { account_id: 'acme', balance: '4.99' } });
    expect(signMessage(secret, 'evt_1', at.getTime() / 1000, body)).toBe(new Webhook(secret).sign('evt_1', at, body));
  });

  it('sends one signature per secret, and the reference verifier accepts either secret', () => {
    const [current, previous] = [newWebhookSecret(), newWebhookSecret()];
    const timestamp = Math.floor(Date.now() / 1000);
    const body = '{"type":"balance.depleted","timestamp":"2026-12-01T10:00:00.000Z","data":{}}';
    const header = signatureHeader([current, previous], 'evt_2', timestamp, body);
    expect(header.split(' ')).toHaveLength(2);
    const headers = { 'webhook-id': 'evt_2', 'webhook-timestamp': String(timestamp), 'webhook-signature': header };
    for (const secret of [current, previous]) expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow('No matching signature found');
    expect(() => new Webhook(current).verify(body.replace('depleted', 'recovered'), headers)).toThrow();
  });
});
