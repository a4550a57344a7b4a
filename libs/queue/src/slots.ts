import calculateSlot from 'cluster-key-slot';
import { hashTag } from '@app/config';

/** The Redis Cluster slot of a key. */
export const keySlot = (key: string): number => calculateSlot(key);

/**
 * The one slot that holds every key beginning with prefix, or null when there is none (the prefix
 * has no whole hash tag, so each key is placed by its own text). Checked against the slot of each
 * key given, computed from its full text: a key that would land elsewhere throws.
 */
export function prefixSlot(prefix: string, keys: readonly string[] = []): number | null {
  const tag = hashTag(prefix);
  if (tag === null) return null;
  const slot = calculateSlot(tag);
  const stray = keys.find((key) => !key.startsWith(prefix) || calculateSlot(key) !== slot);
  if (stray !== undefined) throw new Error(`key ${JSON.stringify(stray)} is not in slot ${slot} of prefix ${JSON.stringify(prefix)}`);
  return slot;
}
