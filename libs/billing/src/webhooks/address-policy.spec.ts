import { describe, expect, it } from '@jest/globals';
import { allowHostsFrom, checkEndpointUrl, isPrivateAddress, resolveTarget, type Resolver } from './address-policy.js';

const policy = { allowHosts: allowHostsFrom('127.0.0.1, localhost') };
const fixed = (map: Record<string, string[]>): Resolver => async (host) => {
  const addresses = map[host];
  if (!addresses) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
  return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('isPrivateAddress', () => {
  it.each(['127.0.0.1', '127.9.9.9', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', 'fc00::5', 'ff02::1', '::ffff:10.0.0.1', '::ffff:7f00:1', '64:ff9b::a9fe:a9fe'])(
    'refuses %s',
    (address) => expect(isPrivateAddress(address)).toBe(true),
  );

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])('lets %s through', (address) => expect(isPrivateAddress(address)).toBe(false));

  it('treats what is not an address as private (never a place to send to)', () => expect(isPrivateAddress('example.com')).toBe(true));
});

describe('checkEndpointUrl', () => {
  it('accepts https anywhere and http only for the allowed hosts', () => {
    expect(checkEndpointUrl('https://hooks.example.com/billing', policy).ok).toBe(true);
    expect(checkEndpointUrl('http://127.0.0.1:8080/hook', policy).ok).toBe(true);
    expect(checkEndpointUrl('http://LOCALHOST:8080/hook', policy).ok).toBe(true);
    expect(checkEndpointUrl('http://hooks.example.com/billing', policy)).toEqual({ ok: false, message: expect.stringMatching(/^must be https/) });
  });

  it.each([
    ['not a url', 'is not a URL'],
    ['ftp://example.com/x', 'must be an https URL, not ftp'],
    ['https://user:pw@example.com/x', 'must not carry a user name or password'],
    ['https://example.com/x#frag', 'must not have a fragment (#...)'],
    [`https://example.com/${'a'.repeat(2100)}`, 'must be at most 2048 characters long'],
  ])('refuses %s', (url, message) => expect(checkEndpointUrl(url, policy)).toEqual({ ok: false, message }));

  it('refuses what is not a string', () => expect(checkEndpointUrl(42, policy).ok).toBe(false));
});

describe('resolveTarget', () => {
  const resolve = fixed({ 'hooks.example.com': ['93.184.216.34'], 'inside.example.com': ['93.184.216.34', '10.0.0.7'], localhost: ['127.0.0.1'] });

  it('answers the public address to connect to', async () => {
    expect(await resolveTarget(new URL('https://hooks.example.com/x'), policy, resolve)).toEqual({ ok: true, address: { address: '93.184.216.34', family: 4 } });
  });

  it('refuses a name with any private address among its addresses', async () => {
    expect(await resolveTarget(new URL('https://inside.example.com/x'), policy, resolve)).toEqual({
      ok: false,
      message: 'inside.example.com resolves to 10.0.0.7, which is a private, loopback or link-local address (allowed only for the hosts in WEBHOOK_ALLOW_HTTP_HOSTS)',
    });
  });

  it('refuses private IP literals, IPv6 included, unless the host is allowed', async () => {
    expect(await resolveTarget(new URL('https://169.254.169.254/latest'), policy, resolve)).toMatchObject({ ok: false, message: expect.stringMatching(/^169\.254\.169\.254 is a private/) });
    expect(await resolveTarget(new URL('https://[::1]/x'), policy, resolve)).toMatchObject({ ok: false });
    expect(await resolveTarget(new URL('http://127.0.0.1:9/x'), policy, resolve)).toEqual({ ok: true, address: { address: '127.0.0.1', family: 4 } });
    expect(await resolveTarget(new URL('http://localhost:9/x'), policy, resolve)).toEqual({ ok: true, address: { address: '127.0.0.1', family: 4 } });
    expect(await resolveTarget(new URL('https://localhost/x'), { allowHosts: new Set() }, resolve)).toMatchObject({ ok: false, message: expect.stringMatching(/^localhost resolves to 127\.0\.0\.1/) });
  });

  it('says so when the name does not resolve', async () => {
    expect(await resolveTarget(new URL('https://nowhere.example.com/x'), policy, resolve)).toEqual({ ok: false, message: 'nowhere.example.com does not resolve (ENOTFOUND)' });
  });
});
