import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Endpoint secrets at rest: AES-256-GCM under SECRETS_KEY, a fresh 96-bit nonce per seal, the
 * endpoint id as additional data (a sealed secret copied onto another endpoint does not open).
 * Stored as `v1.<base64 nonce>.<base64 ciphertext>.<base64 tag>`.
 */
const VERSION = 'v1';

export function secretsKeyFrom(base64: string): Buffer {
  const key = Buffer.from(base64, 'base64');
  if (key.length !== 32) throw new Error('SECRETS_KEY must be 32 bytes in base64');
  return key;
}

export function sealSecret(key: Buffer, plaintext: string, context: string): string {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const sealed = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, nonce.toString('base64'), sealed.toString('base64'), cipher.getAuthTag().toString('base64')].join('.');
}

/** Throws when the text was not sealed by this key for this context (or was altered). */
export function openSecret(key: Buffer, stored: string, context: string): string {
  const [version, nonce, sealed, tag] = stored.split('.');
  if (version !== VERSION || !nonce || !sealed || !tag) throw new Error('not a sealed secret');
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(nonce, 'base64'));
  decipher.setAAD(Buffer.from(context, 'utf8'));
  decipher.setAuthTag(Buffer.from(tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed, 'base64')), decipher.final()]).toString('utf8');
}
