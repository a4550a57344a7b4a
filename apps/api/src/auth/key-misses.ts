/** How long a secret that matched no key is answered 401 without asking the database again. */
export const KEY_MISS_TTL_MS = 10_000;
/** Most misses remembered at once; past it the oldest are forgotten first. */
const MAX_MISSES = 10_000;

/**
 * Secrets that matched no active key, remembered briefly, so a flood of the same unknown key (from
 * any number of addresses) costs one database lookup per interval instead of one per request.
 *
 * Keyed by the hash of the whole secret, never by the key id it claims: a key created later has a
 * secret nobody could have sent before (it is random and shown only once it exists), so no miss of
 * it can be remembered and it works at once; and the right secret of a key id that was tried with
 * a wrong one is looked up as usual. Only misses are kept, so revoking a key takes effect at once.
 */
export class KeyMisses {
  private readonly until = new Map<string, number>();

  constructor(private readonly ttlMs = KEY_MISS_TTL_MS) {}

  has(digest: string, now = Date.now()): boolean {
    const until = this.until.get(digest);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(digest);
    return false;
  }

  add(digest: string, now = Date.now()): void {
    this.until.delete(digest); // re-inserted last: the map stays in expiry order
    this.until.set(digest, now + this.ttlMs);
    if (this.until.size > MAX_MISSES) this.until.delete(this.until.keys().next().value!);
  }
}
