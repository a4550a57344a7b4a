import { type CanActivate, type ExecutionContext, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply } from 'fastify';
import { APP_CONFIG, type AppConfig } from '@app/config';
import { ACCESS, type Access, type Principal, UNLIMITED } from './auth.decorators.js';
import { ProblemException } from '../common/problem.js';

const WINDOW_MS = 60_000;

/** Fixed one-minute windows per client, in this process's memory. */
export class FixedWindows {
  private windows = new Map<string, { count: number; resetAt: number }>();
  private sweptAt = 0;

  /** The seconds to wait when `key` has already had `limit` hits in its window, or 0; counts nothing. */
  full(key: string, limit: number, now = Date.now()): number {
    const window = this.windows.get(key);
    return window && window.resetAt > now && window.count >= limit ? Math.max(1, Math.ceil((window.resetAt - now) / 1000)) : 0;
  }

  /** Counts a hit; returns the seconds to wait when the limit is exceeded, or 0. */
  hit(key: string, limit: number, now = Date.now()): number {
    if (now - this.sweptAt > WINDOW_MS) this.sweep(now);
    let window = this.windows.get(key);
    if (!window || window.resetAt <= now) {
      window = { count: 0, resetAt: now + WINDOW_MS };
      this.windows.set(key, window);
    }
    window.count += 1;
    return window.count > limit ? Math.max(1, Math.ceil((window.resetAt - now) / 1000)) : 0;
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [key, window] of this.windows) if (window.resetAt <= now) this.windows.delete(key);
  }
}

/**
 * Runs after the auth guard (which limits failed authentications per address itself, before it
 * looks a key up). Public routes are limited per client address (but those marked
 * Public({ rateLimited: false })), account keys per key; the admin key (the gateway, finance) is
 * never limited. Windows live in this process: behind a
 * load balancer each API instance counts on its own, so the effective limit is per instance.
 *
 * Written here rather than with @nestjs/throttler: that package is CommonJS requiring the ESM-only
 * @nestjs/common 12, which Node 20 loads but jest's module system cannot (before Node 24.9).
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly windows = new FixedWindows();

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(UNLIMITED, targets)) return true;
    const access = this.reflector.getAllAndOverride<Access>(ACCESS, targets);
    const request = context.switchToHttp().getRequest<{ principal?: Principal; ip?: string }>();
    const principal = request.principal;
    const [key, limit] =
      principal?.role === 'account'
        ? [`key:${principal.keyId}`, this.config.RATE_LIMIT_ACCOUNT_PER_MINUTE]
        : access?.kind === 'public'
          ? [`ip:${request.ip ?? 'unknown'}`, this.config.RATE_LIMIT_PUBLIC_PER_MINUTE]
          : [null, 0];
    if (key === null) return true;
    const wait = this.windows.hit(key, limit);
    if (wait === 0) return true;
    context.switchToHttp().getResponse<FastifyReply>().header('X-RateLimit-Limit', String(limit));
    throw tooManyRequests(`Too many requests: at most ${limit} per minute. Retry in ${wait} s.`, wait);
  }
}

export const tooManyRequests = (detail: string, waitSeconds: number) =>
  new ProblemException(HttpStatus.TOO_MANY_REQUESTS, 'rate-limited', detail, undefined, { 'Retry-After': String(waitSeconds) });
