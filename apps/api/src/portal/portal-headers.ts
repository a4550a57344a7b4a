/**
 * The headers of every /portal response. The page loads only its own script and style files
 * (no inline script or style, no other origin), talks only to this API, and can be framed only
 * by the origins in PORTAL_FRAME_ANCESTORS. Trusted Types make any string-to-HTML sink throw,
 * so nothing the API returns can reach the DOM as markup even by mistake.
 */
export function portalHeaders(frameAncestors: string): Record<string, string> {
  const policy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors ${frameAncestors}`,
    "require-trusted-types-for 'script'",
    "trusted-types 'none'",
  ].join('; ');
  return {
    'Content-Security-Policy': policy,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
    'Cross-Origin-Resource-Policy': 'same-origin',
    ...(frameAncestors === "'none'" ? { 'X-Frame-Options': 'DENY' } : {}),
  };
}
