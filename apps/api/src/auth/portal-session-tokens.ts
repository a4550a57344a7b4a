import { randomBytes } from 'node:crypto';
import { sha256 } from './api-keys.js';

/** Portal session tokens look like `ps_<16 hex: session id>_<43 base64url: secret>`. */
const TOKEN = /^ps_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export function newPortalSessionToken(): { sessionId: string; token: string; hash: Buffer } {
  const id = randomBytes(8).toString('hex');
  const token = `ps_${id}_${randomBytes(32).toString('base64url')}`;
  return { sessionId: `ps_${id}`, token, hash: sha256(token) };
}

/** The session id a token claims to belong to, or null when it is not shaped like a portal session token. */
export function portalSessionIdOf(token: string): string | null {
  const match = TOKEN.exec(token);
  return match ? `ps_${match[1]}` : null;
}
