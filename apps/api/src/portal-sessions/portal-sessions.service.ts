import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { AccountsRepository, PortalSessionsRepository } from '@app/db';
import { newPortalSessionToken } from '../auth/portal-session-tokens.js';
import { notFound, unprocessable } from '../common/problem.js';
import { type CreatePortalSessionDto, PORTAL_SESSION_TTL, type PortalSessionResponse } from './portal-sessions.dto.js';

@Injectable()
export class PortalSessionsService {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly sessions: PortalSessionsRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * A link to the portal for one account. The token rides in the URL's fragment: browsers never
   * send a fragment to a server, so it stays out of access logs, proxies and Referer headers.
   * `requestOrigin` is where the admin's request came in, used unless PORTAL_PUBLIC_URL is set.
   */
  async create(accountId: string, dto: CreatePortalSessionDto, requestOrigin: string): Promise<PortalSessionResponse> {
    const ttl = dto.ttl_seconds ?? PORTAL_SESSION_TTL.default;
    if (ttl < PORTAL_SESSION_TTL.min || ttl > PORTAL_SESSION_TTL.max) {
      const message = `ttl_seconds must be between ${PORTAL_SESSION_TTL.min} and ${PORTAL_SESSION_TTL.max} (24 hours)`;
      throw unprocessable(`${message}.`, [{ field: 'ttl_seconds', message }]);
    }
    if (!(await this.accounts.exists(accountId))) throw notFound(`No account ${accountId}.`);
    const { sessionId, token, hash } = newPortalSessionToken();
    const { expires_at } = await this.sessions.create(sessionId, accountId, hash, ttl);
    const base = this.config.PORTAL_PUBLIC_URL ?? requestOrigin;
    const fragment = new URLSearchParams({ account: accountId, session: token });
    return { url: `${base}/portal/#${fragment.toString()}`, expires_at: expires_at.toISOString() };
  }
}
