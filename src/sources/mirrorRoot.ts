/** Where a mirror's files sit in the bundle (and, after import, under /mirrors/NAME/ on the server), whatever its kind. */
export function mirrorRoot(name: string): string {
  return `mirrors/${name}`;
}
