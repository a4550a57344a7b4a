import { describe, expect, it } from '@jest/globals';
import { portalHeaders } from './portal-headers.js';

const directives = (policy: string) => Object.fromEntries(policy.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]));

describe('portalHeaders', () => {
  it('allows scripts, styles and requests from the page’s own origin only', () => {
    const csp = directives(portalHeaders("'none'")['Content-Security-Policy']);
    expect(csp).toMatchObject({
      'default-src': "'none'",
      'script-src': "'self'",
      'style-src': "'self'",
      'connect-src': "'self'",
      'form-action': "'none'",
      'base-uri': "'none'",
    });
    expect(Object.values(csp).join(' ')).not.toMatch(/unsafe|\*|https?:/);
  });

  it('forbids framing by default, with X-Frame-Options for older browsers', () => {
    const headers = portalHeaders("'none'");
    expect(directives(headers['Content-Security-Policy'])['frame-ancestors']).toBe("'none'");
    expect(headers['X-Frame-Options']).toBe('DENY');
  });

  it('lets the configured origins frame the page, and then sends no X-Frame-Options', () => {
    const headers = portalHeaders("'self' https://app.example.com");
    expect(directives(headers['Content-Security-Policy'])['frame-ancestors']).toBe("'self' https://app.example.com");
    expect(headers).not.toHaveProperty('X-Frame-Options');
  });

  it('sends nosniff and no-referrer', () => {
    expect(portalHeaders("'none'")).toMatchObject({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' });
  });
});
