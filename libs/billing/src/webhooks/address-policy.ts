import { BlockList, isIP } from 'node:net';

/**
 * Where webhooks may be sent. A URL is https, unless its host is one of the allowed hosts
 * (WEBHOOK_ALLOW_HTTP_HOSTS, for development and tests), and every address its host resolves to
 * is public, unless, again, the host is allowed. The check runs when an endpoint is registered
 * and again before every delivery, on the addresses the delivery then connects to, so a name
 * that later resolves elsewhere (DNS rebinding) cannot reach a private network either.
 */
export const MAX_ENDPOINT_URL_LENGTH = 2048;

const blocked = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local (cloud metadata services live here)
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24], // documentation
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['64:ff9b:1::', 48], // local-use NAT64
  ['100::', 64], // discard
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) {
  blocked.addSubnet(network, prefix, 'ipv6');
}

/** The IPv4 address inside an IPv4-mapped or NAT64 IPv6 address (::ffff:10.0.0.1, 64:ff9b::a00:1), if any. */
function embeddedIpv4(address: string): string | null {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return null;
  const [hi, lo] = [parseInt(hex[1], 16), parseInt(hex[2], 16)];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** Loopback, private, link-local, shared, reserved, multicast or unspecified: not on the public internet. */
export function isPrivateAddress(address: string): boolean {
  const version = isIP(address);
  if (version === 4) return blocked.check(address, 'ipv4');
  if (version === 6) {
    const inner = embeddedIpv4(address);
    return inner ? blocked.check(inner, 'ipv4') : blocked.check(address, 'ipv6');
  }
  return true; // not an address at all: never a place to send to
}

/** The URL's host as it is compared and resolved: lower case, IPv6 without brackets. */
export const hostOf = (url: URL): string => url.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');

export interface TargetPolicy {
  /** Hosts that may be reached over http and at private addresses (lower case). */
  allowHosts: ReadonlySet<string>;
}

export const allowHostsFrom = (list: string): ReadonlySet<string> =>
  new Set(
    list
      .split(',')
      .map((h) => h.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1'))
      .filter(Boolean),
  );

export type UrlCheck = { ok: true; url: URL } | { ok: false; message: string };

/** What the URL itself must be, before any lookup: http(s), no credentials, https unless allowed. */
export function checkEndpointUrl(raw: unknown, policy: TargetPolicy): UrlCheck {
  if (typeof raw !== 'string' || raw.length === 0) return { ok: false, message: 'must be a URL such as "https://hooks.example.com/billing"' };
  if (raw.length > MAX_ENDPOINT_URL_LENGTH) return { ok: false, message: `must be at most ${MAX_ENDPOINT_URL_LENGTH} characters long` };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: 'is not a URL' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, message: `must be an https URL, not ${url.protocol.replace(/:$/, '')}` };
  if (url.username || url.password) return { ok: false, message: 'must not carry a user name or password' };
  if (url.hash) return { ok: false, message: 'must not have a fragment (#...)' };
  const host = hostOf(url);
  if (url.protocol === 'http:' && !policy.allowHosts.has(host)) {
    return { ok: false, message: `must be https (http is allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS, and ${host} is not one)` };
  }
  return { ok: true, url };
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** How a host name is resolved (dns.promises.lookup with all: true, or a test's). */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export type TargetCheck = { ok: true; address: ResolvedAddress } | { ok: false; message: string };

/**
 * Resolves the URL's host and checks every address; answers the address to connect to. An IP
 * literal is its own address. A host that resolves to any private address is refused (unless
 * allowed): a name with one public and one private address must not reach the private one.
 */
export async function resolveTarget(url: URL, policy: TargetPolicy, resolve: Resolver): Promise<TargetCheck> {
  const host = hostOf(url);
  const version = isIP(host);
  let addresses: ResolvedAddress[];
  if (version) addresses = [{ address: host, family: version as 4 | 6 }];
  else {
    try {
      addresses = await resolve(host);
    } catch (error) {
      return { ok: false, message: `${host} does not resolve (${(error as { code?: string }).code ?? (error as Error).message})` };
    }
    if (!addresses.length) return { ok: false, message: `${host} does not resolve` };
  }
  if (!policy.allowHosts.has(host)) {
    const inside = addresses.find((a) => isPrivateAddress(a.address));
    if (inside) {
      return {
        ok: false,
        message: `${host === inside.address ? host : `${host} resolves to ${inside.address}, which`} is a private, loopback or link-local address (allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS)`,
      };
    }
  }
  return { ok: true, address: addresses[0] };
}
