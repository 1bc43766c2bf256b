/**
 * Whether a parsed JSON value nests objects and arrays more than `max` levels deep (the value itself is
 * level 0), found without recursion. JSON.parse reads a document of `[[[[…]]]]` a million levels deep
 * without trouble, but JSON.stringify and any recursive walk of it run out of stack: a document made by
 * someone else that ferry writes back is checked first.
 */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length > 0) {
    const { v, depth } = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push({ v: child, depth: depth + 1 });
  }
  return false;
}
