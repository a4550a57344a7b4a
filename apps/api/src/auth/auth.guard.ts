import { type CanActivate, type ExecutionContext, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { ApiKeysRepository, PortalSessionsRepository } from '@app/db';
import { ProblemException, forbidden } from '../common/problem.js';
import { ACCESS, type Access, type Principal } from './auth.decorators.js';
import { keyIdOf, sameHash, sha256 } from './api-keys.js';
import { KeyMisses } from './key-misses.js';
import { portalSessionIdOf } from './portal-session-tokens.js';
import { FixedWindows, tooManyRequests } from './rate-limit.guard.js';

const unauthorized = (detail: string) =>
  new ProblemException(HttpStatus.UNAUTHORIZED, 'unauthorized', detail, undefined, { 'WWW-Authenticate': 'Bearer' });

/**
 * Admin key: everything. Account key: reading its own account only. No key or an unknown key
 * is 401; a known key reaching past its rights is 403.
 *
 * Failed authentications are counted per client address (RATE_LIMIT_AUTH_FAILURES_PER_MINUTE):
 * past the limit, that address gets 429 for anything but the admin key (compared in constant time,
 * no lookup) until its minute is over, before any key is looked up. Secrets that matched no key
 * are remembered briefly (KeyMisses), so the same unknown key is looked up once per interval.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  private readonly failures = new FixedWindows();
  private readonly misses = new KeyMisses();
  /** The admin key's digest, taken once: each request then hashes only the secret it presents. */
  private readonly adminHash: Buffer;

  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysRepository,
    private readonly portalSessions: PortalSessionsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.adminHash = sha256(config.ADMIN_API_KEY);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access>(ACCESS, [context.getHandler(), context.getClass()]) ?? { kind: 'admin' };
    if (access.kind === 'public') return true;
    const request = context.switchToHttp().getRequest<FastifyRequest<{ Params: Record<string, string> }> & { principal?: Principal }>();
    // The client address (request.ip walks X-Forwarded-For under trustProxy) only matters once the admin key has not matched.
    const principal = await this.authenticate(request.headers.authorization, () => `ip:${request.ip ?? 'unknown'}`);
    request.principal = principal;
    if (principal.role === 'admin') return true;
    if (access.kind === 'authenticated') return true;
    if (access.kind === 'account' && request.params[access.param] === principal.accountId) return true;
    throw forbidden();
  }

  private async authenticate(header: string | undefined, clientOf: () => string): Promise<Principal> {
    const match = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(header ?? '');
    const presented = match ? { secret: match[1], hash: sha256(match[1]) } : undefined;
    if (presented && sameHash(presented.hash, this.adminHash)) return { role: 'admin' };
    const client = clientOf();
    const limit = this.config.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE;
    const wait = this.failures.full(client, limit);
    if (wait > 0) throw tooManyRequests(`Too many failed authentications from this address: at most ${limit} per minute. Retry in ${wait} s.`, wait);
    const failed = (detail: string) => {
      this.failures.hit(client, limit);
      return unauthorized(detail);
    };
    if (!presented) throw failed('Send an API key as "Authorization: Bearer <key>".');
    const { secret, hash } = presented;
    const digest = hash.toString('hex');
    if (this.misses.has(digest)) throw failed('The API key is not valid.');
    const sessionId = portalSessionIdOf(secret);
    if (sessionId) return this.portalSession(sessionId, hash, digest, failed);
    const keyId = keyIdOf(secret);
    const key = keyId ? await this.keys.findActive(keyId) : null;
    if (!key || !sameHash(hash, key.secret_hash)) {
      this.misses.add(digest);
      throw failed('The API key is not valid.');
    }
    return { role: 'account', accountId: key.account_id, keyId: key.key_id };
  }

  /**
   * A portal session reads what a key of its account reads (never writes), until it expires. A
   * failed one counts against the address, and an unknown token is remembered, like a key.
   */
  private async portalSession(sessionId: string, hash: Buffer, digest: string, failed: (detail: string) => Error): Promise<Principal> {
    const session = await this.portalSessions.findLive(sessionId);
    if (!session || !sameHash(hash, session.secret_hash)) {
      this.misses.add(digest);
      throw failed('The portal session is not valid or has expired.');
    }
    return { role: 'account', accountId: session.account_id, keyId: session.session_id };
  }
}
