import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext } from 'playwright-core';

/** The bench launches the same browser the same way (Debian's chromium, installed by .ci/run when missing). */
export { launchChromium } from '../../bench/browser.js';

/** Screenshots for people to look at (git-ignored). */
export const SCREENSHOTS = fileURLToPath(new URL('../../test-output/portal/', import.meta.url));
export const screenshotPath = (name: string): string => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return join(SCREENSHOTS, `${name}.png`);
};

export interface SeenRequest {
  url: string;
  headers: Record<string, string>;
}

export interface Guarded {
  context: BrowserContext;
  /** Requests to any host but 127.0.0.1: refused, and listed here. */
  outside: string[];
  /** Every request the pages made. */
  seen: SeenRequest[];
}

/** A fresh browser context (its own storage) that lets requests reach 127.0.0.1 only, and records them all. */
export async function guardedContext(browser: Browser, outside: string[], seen: SeenRequest[]): Promise<Guarded> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true, timezoneId: 'America/Los_Angeles' });
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url());
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '127.0.0.1') {
      outside.push(url.href);
      return route.abort('blockedbyclient');
    }
    return route.continue();
  });
  context.on('request', (request) => void seen.push({ url: request.url(), headers: request.headers() }));
  return { context, outside, seen };
}
