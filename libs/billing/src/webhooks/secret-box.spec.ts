import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { openSecret, sealSecret, secretsKeyFrom } from './secret-box.js';

describe('secrets at rest (AES-256-GCM)', () => {
  const key = randomBytes(32);

  it('opens what it sealed, and seals the same secret differently each time', () => {
    const sealed = sealSecret(key, 'whsec_abc', 'we_1');
    expect(sealed).not.toContain('whsec_abc');
    expect(openSecret(key, sealed, 'we_1')).toBe('whsec_abc');
    expect(sealSecret(key, 'whsec_abc', 'we_1')).not.toBe(sealed);
  });

  it('refuses another key, another endpoint and any altered byte', () => {
    const sealed = sealSecret(key, 'whsec_abc', 'we_1');
    expect(() => openSecret(randomBytes(32), sealed, 'we_1')).toThrow();
    expect(() => openSecret(key, sealed, 'we_2')).toThrow();
    const parts = sealed.split('.');
    const body = Buffer.from(parts[2], 'base64');
    body[0] ^= 1;
    expect(() => openSecret(key, [parts[0], parts[1], body.toString('base64'), parts[3]].join('.'), 'we_1')).toThrow();
    expect(() => openSecret(key, 'whsec_abc', 'we_1')).toThrow('not a sealed secret');
  });

  it('takes a key of exactly 32 bytes in base64', () => {
    expect(secretsKeyFrom(randomBytes(32).toString('base64'))).toHaveLength(32);
    expect(() => secretsKeyFrom(randomBytes(16).toString('base64'))).toThrow('SECRETS_KEY must be 32 bytes in base64');
  });
});
