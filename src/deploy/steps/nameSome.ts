/** Paths (or other names) a drift report names at most; the rest is counted. */
export const NAMES_SHOWN = 5;

/** "a, b, c" for a report line: the first NAMES_SHOWN names, then how many more there are. */
export function nameSome(names: readonly string[], total = names.length): string {
  const shown = names.slice(0, NAMES_SHOWN).join(', ');
  return total > NAMES_SHOWN ? `${shown}, … ${total - NAMES_SHOWN} more` : shown;
}
