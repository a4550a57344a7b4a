import { type CanActivate, type ExecutionContext, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { ApiKeysRepository, PortalSessionsRepository } from '@app/db';
import { ProblemException, forbidden } from '../common/problem.js';
import { ACCESS, type Access, type Principal } from './auth.decorators.js';
import { keyIdOf, matchesHash, sameSecret } from './api-keys.js';
import { portalSessionIdOf } from './portal-session-tokens.js';

const unauthorized = (detail: string) =>
  new ProblemException(HttpStatus.UNAUTHORIZED, 'unauthorized', detail, undefined, { 'WWW-Authenticate': 'Bearer' });

/**
 * Admin key: everything. Account key: reading its own account only. No key or an unknown key
 * is 401; a known key reaching past its rights is 403.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysRepository,
    private readonly portalSessions: PortalSessionsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<Access>(ACCESS, [context.getHandler(), context.getClass()]) ?? { kind: 'admin' };
    if (access.kind === 'public') return true;
    const request = context.switchToHttp().getRequest<Request & { principal?: Principal }>();
    const principal = await this.authenticate(request.headers.authorization);
    request.principal = principal;
    if (principal.role === 'admin') return true;
    if (access.kind === 'authenticated') return true;
    if (access.kind === 'account' && request.params[access.param] === principal.accountId) return true;
    throw forbidden();
  }

  private async authenticate(header: string | undefined): Promise<Principal> {
    const match = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(header ?? '');
    if (!match) throw unauthorized('Send an API key as "Authorization: Bearer <key>".');
    const secret = match[1];
    if (sameSecret(secret, this.config.ADMIN_API_KEY)) return { role: 'admin' };
    const sessionId = portalSessionIdOf(secret);
    if (sessionId) return this.portalSession(sessionId, secret);
    const keyId = keyIdOf(secret);
    const key = keyId ? await this.keys.findActive(keyId) : null;
    if (!key || !matchesHash(secret, key.secret_hash)) throw unauthorized('The API key is not valid.');
    return { role: 'account', accountId: key.account_id, keyId: key.key_id };
  }

  /** A portal session reads what a key of its account reads (never writes), until it expires. */
  private async portalSession(sessionId: string, token: string): Promise<Principal> {
    const session = await this.portalSessions.findLive(sessionId);
    if (!session || !matchesHash(token, session.secret_hash)) throw unauthorized('The portal session is not valid or has expired.');
    return { role: 'account', accountId: session.account_id, keyId: session.session_id };
  }
}
