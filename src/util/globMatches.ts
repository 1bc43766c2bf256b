/** A shell-style glob over a whole name as a regular expression: * any run of characters, ? one character. */
export function globToRegExp(glob: string): RegExp {
  const re = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/** Whether a shell-style glob (* and ?) matches the whole name. */
export function globMatches(glob: string, name: string): boolean {
  return globToRegExp(glob).test(name);
}
