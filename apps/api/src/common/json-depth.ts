/** Deepest JSON body accepted: a usage batch with the deepest metadata allowed fits well inside. */
export const MAX_BODY_DEPTH = 64;

/** How deep a parsed JSON value nests, counted without recursion (a hostile body cannot overflow the stack). */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth >= limit) return true;
    for (const child of Object.values(item)) if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
  }
  return false;
}
