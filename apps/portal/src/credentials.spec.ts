import { describe, expect, it } from '@jest/globals';
import { BAD_LINK, fromFragment } from './credentials';

const TOKEN = `ps_0123456789abcdef_${'A'.repeat(43)}`;

describe('fromFragment', () => {
  it('reads the account and the session token of a portal link', () => {
    expect(fromFragment(`#account=acme-corp&session=${TOKEN}`)).toEqual({ credentials: { accountId: 'acme-corp', token: TOKEN, via: 'session' } });
  });

  it('is null for a fragment that is not a portal link (the skip link, nothing)', () => {
    expect(fromFragment('#main')).toBeNull();
    expect(fromFragment('')).toBeNull();
  });

  it.each([
    ['a cut-short token', `#account=acme&session=${TOKEN.slice(0, -1)}`],
    ['an account key in place of a session', `#account=acme&session=${TOKEN.replace('ps_', 'bk_')}`],
    ['no account', `#session=${TOKEN}`],
    ['an account id with a quote', `#account=a'b&session=${TOKEN}`],
    ['an empty session', '#account=acme&session='],
  ])('refuses %s with a clear message', (_, hash) => {
    expect(fromFragment(hash)).toEqual({ error: BAD_LINK });
  });
});
